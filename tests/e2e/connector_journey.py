"""The end-to-end journey every source connector is checked with, over HTTP against a real
`sluice serve`: create a connection -> test it -> explore (list) -> preview -> source
connection -> dataset + target connection -> `once` flow (a day away) -> an on-demand run
over one window -> the run succeeds -> its rows are in the Delta dataset.

Each step asserts what must hold for any connector; the caller asserts what its source holds
(`JourneyResult.listings`, `.preview`, `.rows`).

Also what the connectors' journeys share: the day their runs read (`WINDOW`), the orders of
the table sources and what of them must land, re-uploading until a store's clock moves on,
and a run that must fail with a coded error and commit nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from e2e_flows import (
    FILE_FLOW_SPEC,
    TABLE_FLOW_SPEC,
    create_connection,
    create_run,
    create_source_connection,
    delta_path,
    flow_to_new_dataset,
    read_dataset,
    source_flow,
)
from processes import ServerProcess, client_for

from sluice.client import SluiceClient, run_status

# Generous: a run waits for a worker slot on a machine shared with other tests.
RUN_TIMEOUT_SECONDS = 300.0
DAY = 86_400
# The day the journeys' runs read: 2024-05-01 (UTC).
WINDOW_START = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())
WINDOW = (WINDOW_START, WINDOW_START + DAY)
# The table sources' orders in WINDOW (rows 1 and 4 lie outside it).
IN_WINDOW = [2, 3]
# Waiting for a store's clock to move on to the next second, when two uploads need different
# modification times; a bound, never a measured duration.
_UPLOAD_ATTEMPTS = 50


@dataclass(frozen=True)
class Journey:
    name: str  # unique prefix for resource names
    connection_spec_id: str
    auth: dict[str, Any]  # {"specName": ..., "params": {...}}
    explore: Sequence[tuple[str, str | None]]  # (objectType, object) listings; each non-empty
    # Query params of the preview call, e.g. {"objectType": "table", "object": "shop.orders"}
    # or {"objectType": "file", "object": "in/a.csv", "fileType": "delimited"}.
    preview: Mapping[str, str]
    source: dict[str, Any]  # the source connection's {"data": {...}, "params": {...}}
    file_source: bool  # True: CloudStorageToAEP flow; False: CRMToAEP (table) flow
    window: tuple[int, int]  # the on-demand run's [start, end) in epoch seconds
    delta_column: str | None = None  # table sources
    options: Mapping[str, Any] = field(default_factory=dict)  # flow options (writeMode, ...)


@dataclass(frozen=True)
class JourneyResult:
    connection_id: str
    flow_id: str
    dataset_id: str
    listings: list[list[dict[str, Any]]]  # the explore responses, in order
    preview: dict[str, Any]  # the preview response
    run: dict[str, Any]  # the finished run document
    rows: pa.Table  # the dataset read back from Delta, system columns dropped


def explore_path(connection_id: str) -> str:
    return f"connections/{connection_id}/explore"


def run_journey(client: SluiceClient, data_dir: Path, journey: Journey) -> JourneyResult:
    """Walk the whole journey; fails (AssertionError / SluiceApiError) at the first bad step."""
    spec = journey.connection_spec_id
    connection_id = create_connection(client, f"{journey.name} connection", spec, journey.auth)

    tested = client.get(f"connections/{connection_id}/test")
    assert tested.get("result") is True, f"connection test failed: {tested}"

    listings = [_listing(client, connection_id, object_type, obj)
                for object_type, obj in journey.explore]
    preview = _preview(client, connection_id, journey.preview)

    source_id = create_source_connection(client, f"{journey.name} source", spec, connection_id,
                                         journey.source)
    flow_spec = FILE_FLOW_SPEC if journey.file_source else TABLE_FLOW_SPEC
    flow = flow_to_new_dataset(client, journey.name, flow_spec, source_id, None,
                               dict(journey.options))

    run_id = create_run(client, flow.flow_id, *journey.window, delta_column=journey.delta_column)
    run = client.wait_for_run(run_id, timeout_seconds=RUN_TIMEOUT_SECONDS)
    assert run_status(run) == "success", f"run {run_id} ended {run_status(run)}: {run}"

    return JourneyResult(
        connection_id=connection_id,
        flow_id=flow.flow_id,
        dataset_id=flow.dataset_id,
        listings=listings,
        preview=preview,
        run=run,
        rows=read_dataset(data_dir, flow.dataset_id),
    )


def _listing(client: SluiceClient, connection_id: str, object_type: str,
             obj: str | None) -> list[dict[str, Any]]:
    params = {"objectType": object_type, **({"object": obj} if obj is not None else {})}
    listed = client.get(explore_path(connection_id), params)
    assert isinstance(listed, list), f"explore {params} answered {listed!r}, not a list"
    assert listed, f"explore {params} listed nothing"
    for item in listed:
        assert {"type", "name", "path", "canPreview", "canFetchSchema"} <= item.keys(), item
    return listed


def _preview(client: SluiceClient, connection_id: str,
             params: Mapping[str, str]) -> dict[str, Any]:
    previewed = client.get(explore_path(connection_id), {**params, "preview": "true"})
    assert isinstance(previewed, dict), f"preview answered {previewed!r}"
    assert previewed.get("format") == "flat", previewed
    columns = previewed["schema"]["columns"]
    assert columns and all({"name", "type"} <= c.keys() for c in columns), previewed
    assert isinstance(previewed["data"], list) and previewed["data"], "the preview has no rows"
    assert len(previewed["data"]) <= 100, "a default preview returns at most 100 rows"
    return previewed


def check_orders_landed(result: JourneyResult) -> pa.Table:
    """The orders of WINDOW, and only they, landed with their types; the rows, by id."""
    assert result.run["metrics"]["recordSummary"]["outputRecordCount"] == len(IN_WINDOW)
    rows = result.rows.sort_by("id")
    assert rows.column_names == ["id", "updated_at", "amount", "paid"]
    assert rows["id"].to_pylist() == IN_WINDOW
    assert rows.schema.field("amount").type == pa.decimal128(12, 2)
    assert rows["amount"].to_pylist() == [Decimal("2.20"), Decimal("3.30")]
    return rows


def upload_after(upload: Callable[[], float], after: float) -> float:
    """Upload (again) until the store gives the object a modification time later than
    `after`, which `upload` returns; that time."""
    for _ in range(_UPLOAD_ATTEMPTS):
        modified = upload()
        if modified > after:
            return modified
        time.sleep(0.1)
    raise AssertionError(f"the store kept the modification time at {after} or earlier")


def check_malformed_file_fails_its_run(server: ServerProcess, name: str, spec_id: str,
                                       auth: dict[str, Any], modified: float,
                                       secret: str) -> None:
    """A Parquet flow over `in/` of a store (`auth`) holding the malformed `in/broken.parquet`,
    modified at `modified`: its run fails with CONNECTOR-2001-500 naming the file, without
    `secret` anywhere, and no Delta commit names the run (the dataset may have an empty
    table)."""
    with client_for(server) as client:
        flow = source_flow(client, name, spec_id, auth,
                           {"data": {"format": "parquet"}, "params": {"path": "in"}})
        run_id = create_run(client, flow.flow_id, int(modified), int(modified) + 60)
        run = client.wait_for_run(run_id, timeout_seconds=RUN_TIMEOUT_SECONDS)

    assert run_status(run) == "failed", run
    (error,) = run["metrics"]["statusSummary"]["errors"]
    assert error["code"] == "CONNECTOR-2001-500"
    assert "in/broken.parquet" in error["message"]
    assert secret not in str(run)
    if list((server.data_dir / "lake").glob(f"*/*/{flow.dataset_id}")):
        log = delta_path(server.data_dir, flow.dataset_id) / "_delta_log"
        assert all(run_id not in entry.read_text() for entry in log.glob("*.json"))
