"""A million rows, ten consecutive on-demand windows through the real server: the dataset is
the table, exactly (no row lost or doubled at a boundary), and a re-run replaces its window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest
from e2e_flows import (
    BuiltFlow,
    create_run,
    delta_version,
    postgres_table_flow,
    preview,
    read_table,
)
from processes import (
    ServerProcess,
    await_run,
    client_for,
    pg_query,
    pg_source,
    served,
    source_table,
)

from sluice.client import SluiceClient

pytestmark = pytest.mark.e2e

ROWS = 1_000_000
WINDOWS = 10
ROWS_PER_WINDOW = ROWS // WINDOWS
BASE = datetime(2024, 5, 1, tzinfo=UTC)
BASE_EPOCH = int(BASE.timestamp())
DAY = 86_400
# Row g sits at BASE + (g - 1) * 0.864 s, so row k * 100_000 + 1 falls exactly on the start of
# window k; row k * 100_000 is moved to one microsecond before that boundary.
ON_BOUNDARY = [k * ROWS_PER_WINDOW + 1 for k in range(WINDOWS)]
JUST_BEFORE = [k * ROWS_PER_WINDOW for k in range(1, WINDOWS + 1)]


@pytest.fixture
def table() -> Iterator[str]:
    with source_table("e2e_windows") as name:
        pg_source(f"""
            CREATE TABLE {name} (
                id bigint PRIMARY KEY,
                updated_at timestamptz NOT NULL,
                amount numeric(12, 2) NOT NULL,
                label text NOT NULL
            );
            INSERT INTO {name}
            SELECT g,
                   CASE WHEN g % {ROWS_PER_WINDOW} = 0
                        THEN timestamptz '{BASE.isoformat()}'
                             + (g / {ROWS_PER_WINDOW}) * interval '1 day'
                             - interval '1 microsecond'
                        ELSE timestamptz '{BASE.isoformat()}'
                             + (g - 1) * interval '864 milliseconds'
                   END,
                   (g % 100000) / 100.0,
                   'row ' || g
            FROM generate_series(1, {ROWS}) AS g;
        """)
        yield name


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with served(tmp_path, "--workers", "2", lease_seconds="3") as running:
        yield running


def window(k: int) -> tuple[int, int]:
    return BASE_EPOCH + k * DAY, BASE_EPOCH + (k + 1) * DAY


def test_ten_windows_hold_the_table_exactly_and_a_rerun_replaces_its_window(
    server: ServerProcess, table: str
) -> None:
    ((count, id_sum),) = pg_query(f"SELECT count(*), sum(id) FROM {table}")
    assert count == ROWS
    boundary_times = dict(pg_query(
        f"SELECT id, updated_at FROM {table} WHERE id = ANY(%s)", [ON_BOUNDARY + JUST_BEFORE]))
    assert boundary_times[ON_BOUNDARY[3]] == BASE + timedelta(days=3)
    assert boundary_times[JUST_BEFORE[2]] == BASE + timedelta(days=3, microseconds=-1)

    with client_for(server) as client:
        flow = postgres_table_flow(client, table)
        # All ten submitted at once: two workers take them concurrently.
        runs = [create_run(client, flow.flow_id, *window(k), delta_column="updated_at")
                for k in range(WINDOWS)]
        ended = [await_run(client, run_id, [server]) for run_id in runs]
        for run in ended:
            assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
            assert run["metrics"]["recordSummary"]["outputRecordCount"] == ROWS_PER_WINDOW

        rows = read_table(server.data_dir, flow.dataset_id, ["id", "_sluice_run_id"])
        assert rows.num_rows == count
        assert pc.count_distinct(rows["id"]).as_py() == count
        assert pc.sum(rows["id"]).as_py() == id_sum
        run_of = dict(zip(rows["id"].to_pylist(), rows["_sluice_run_id"].to_pylist(),
                          strict=True))
        for k in range(WINDOWS):
            # The row on a window's start is that window's; the row a microsecond before it,
            # the previous window's.
            assert run_of[ON_BOUNDARY[k]] == runs[k]
            assert run_of[JUST_BEFORE[k]] == runs[k]
        assert _preview_count(client, flow) == count
        version = delta_version(server.data_dir, flow.dataset_id)

        rerun = create_run(client, flow.flow_id, *window(4))
        ended_rerun = await_run(client, rerun, [server])
        assert ended_rerun["metrics"]["statusSummary"]["status"] == "success", ended_rerun
        promotion = ended_rerun["activities"][1]["statusSummary"]["extensions"]
        assert promotion["deltaVersion"] == version + 1

        again = read_table(server.data_dir, flow.dataset_id, ["id", "_sluice_run_id"])
        assert again.num_rows == count
        assert pc.count_distinct(again["id"]).as_py() == count
        assert pc.sum(again["id"]).as_py() == id_sum
        assert delta_version(server.data_dir, flow.dataset_id) == version + 1
        rerun_rows = again.filter(pc.equal(again["_sluice_run_id"], rerun))
        assert rerun_rows.num_rows == ROWS_PER_WINDOW
        assert pc.min(rerun_rows["id"]).as_py() == ON_BOUNDARY[4]
        assert pc.max(rerun_rows["id"]).as_py() == JUST_BEFORE[4]
        assert _preview_count(client, flow) == count


def _preview_count(client: SluiceClient, flow: BuiltFlow) -> int:
    return int(preview(client, flow.dataset_id, limit=1)["rowCount"])
