"""A backfill through the real server (its scheduler and three workers) over a real
PostgreSQL table: the union of the chunks' rows is the range's rows, each exactly once (rows
on chunk boundaries included, rows outside the range left out), and no more than
`parallelism` chunk runs were ever in progress at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_flows import postgres_table_flow, read_table
from processes import (
    ServerProcess,
    client_for,
    pg_query,
    pg_source,
    served,
    source_table,
    wait_for,
)

from sluice.client import SluiceClient

pytestmark = pytest.mark.e2e

DAY = 86_400
BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())
# [05-01T06:00, 05-05T00:00): four day chunks, the first one short.
RANGE_START, RANGE_END = BASE + 6 * 3600, BASE + 4 * DAY
PARALLELISM = 2


@pytest.fixture
def table() -> Iterator[str]:
    with source_table("e2e_backfill") as name:
        # A row every 7 minutes over six days from 04-30, plus one row on each day boundary and
        # one a microsecond before it.
        pg_source(f"""
            CREATE TABLE {name} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {name}
            SELECT g, timestamptz '2024-04-30 00:00:00+00' + g * interval '7 minutes'
            FROM generate_series(1, 6 * 24 * 60 / 7) AS g;
            INSERT INTO {name}
            SELECT 100000 + d, timestamptz '2024-05-01 00:00:00+00' + d * interval '1 day'
            FROM generate_series(0, 5) AS d;
            INSERT INTO {name}
            SELECT 200000 + d, timestamptz '2024-05-01 00:00:00+00' + d * interval '1 day'
                   - interval '1 microsecond'
            FROM generate_series(0, 5) AS d;
        """)
        yield name


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with served(tmp_path, "--workers", "3", scheduler_interval_seconds="0.5") as running:
        yield running


def _max_overlap(runs: list[dict[str, Any]]) -> int:
    """The most runs in progress at one instant, from their start and end times."""
    events = []
    for run in runs:
        duration = run["metrics"]["durationSummary"]
        events += [(duration["startedAtUTC"], 1), (duration["completedAtUTC"], -1)]
    live = peak = 0
    for _moment, change in sorted(events, key=lambda e: (e[0], e[1])):
        live += change
        peak = max(peak, live)
    return peak


def test_a_backfill_lands_the_range_exactly_once_with_bounded_parallelism(
    server: ServerProcess, table: str
) -> None:
    with client_for(server) as client:
        flow = postgres_table_flow(client, table)
        created = client.backfills.create(
            flow.flow_id,
            window_start=RANGE_START,
            window_end=RANGE_END,
            unit="day",
            parallelism=PARALLELISM,
            delta_column="updated_at",
        )

        def ended() -> dict[str, Any] | None:
            backfill: dict[str, Any] = client.backfills.get(created.id)
            return backfill if backfill["status"] in ("success", "failed") else None

        backfill = wait_for("the backfill to end", ended, [server], 240)
        assert backfill["status"] == "success", backfill
        assert [c["status"] for c in backfill["chunks"]] == ["succeeded"] * 4
        runs = _chunk_runs(client, created.id)
        assert len(runs) == 4
        assert _max_overlap(runs) <= PARALLELISM

    expected = pg_query(
        f"SELECT id FROM {table} WHERE updated_at >= to_timestamp(%s) "
        "AND updated_at < to_timestamp(%s) ORDER BY id",
        [RANGE_START, RANGE_END],
    )
    landed = read_table(server.data_dir, flow.dataset_id, ["id"])["id"].to_pylist()
    assert sorted(landed) == [row[0] for row in expected]  # each row once, nothing else
    assert 100001 in landed and 200001 in landed  # both sides of a chunk boundary
    assert 100000 not in landed and 200004 in landed and 100004 not in landed
    assert backfill["progress"]["records"] == len(expected)


def _chunk_runs(client: SluiceClient, backfill_id: str) -> list[dict[str, Any]]:
    return client.runs.list(property=[f"backfillId=={backfill_id}"])
