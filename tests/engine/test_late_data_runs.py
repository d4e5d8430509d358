"""Late data end to end: an hourly flow over a real PostgreSQL table with `settleDelay` and
`lookback`, its ticks created by the scheduler and run by a real worker into the lake.

Rows arrive late (after the tick whose window holds them ran); the next tick's lookback
picks them up, and with `replaceWindow` or `merge` the overlap never lands a row twice. A
row on a window's shifted end waits for the next tick.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sluice.engine.scheduler import materialize_due_runs
from sluice.engine.worker import Worker
from sluice.store.db import transaction
from sluice.store.models import Flow
from support.api_bodies import (
    CATALOG,
    FS,
    POSTGRES_SPEC,
    created_id,
    postgres_connection,
    table_source,
    target,
)
from support.api_runs import run_all
from support.callers import Caller
from support.connector_reads import pg_execute, pg_table

HOUR = 3600
MINUTE = 60
# Ten hours ago, on the hour: every tick of the test is already due by the wall clock.
S = (int(time.time()) // HOUR - 10) * HOUR


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite metadata only: what is under test is the windows and the lake, which the
    store tests already cover on both databases."""
    yield f"sqlite:///{tmp_path / 'meta' / 'sluice.db'}"


@pytest.fixture
def table() -> Iterator[str]:
    with pg_table("late") as name:
        pg_execute(f"CREATE TABLE {name} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL)")
        yield name


def _arrive(table: str, row_id: int, at_seconds_after_start: int) -> None:
    stamp = datetime.fromtimestamp(S + at_seconds_after_start, UTC)
    pg_execute(f"INSERT INTO {table} VALUES (%s, %s)", (row_id, stamp))


def _late_flow(
    caller: Caller, sessions: sessionmaker[Session], table: str, **options: Any
) -> tuple[str, str]:
    base = created_id(caller.post(f"{FS}/connections", json=postgres_connection()))
    source = created_id(
        caller.post(f"{FS}/sourceConnections", json=table_source(base, table, POSTGRES_SPEC))
    )
    dataset_id = created_id(caller.post(f"{CATALOG}/dataSets", json={"name": table}))
    target_id = created_id(caller.post(f"{FS}/targetConnections", json=target(dataset_id)))
    body = {
        "name": "late orders",
        "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target_id],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}],
        "scheduleParams": {
            "startTime": str(int(time.time()) + HOUR),
            "frequency": "hour",
            "interval": 1,
            "backfill": False,
        },
        "options": {
            "settleDelay": {"value": 10, "unit": "minute"},
            "lookback": {"value": 1, "unit": "hour"},
            **options,
        },
    }
    flow_id = created_id(caller.post(f"{FS}/flows", json=body))
    # The API only takes start times from now on; move it into the past so the ticks are
    # due by the wall clock, and let the scheduler work the next tick out again.
    with transaction(sessions) as session:
        flow = session.get_one(Flow, flow_id)
        flow.doc = {**flow.doc, "scheduleParams": {**flow.doc["scheduleParams"], "startTime": S}}
        flow.next_tick_at = 0
    return flow_id, dataset_id


def _tick(sessions: sessionmaker[Session], worker: Worker, k: int) -> None:
    assert materialize_due_runs(sessions, now_s=S + k * HOUR) == 1
    assert run_all(worker) == 1


def _landed(caller: Caller, dataset_id: str) -> list[int]:
    response = caller.get(f"{CATALOG}/dataSets/{dataset_id}/preview?limit=1000")
    assert response.status_code == 200, response.text
    return sorted(int(row["id"]) for row in response.json()["rows"])


def _windows(caller: Caller, flow_id: str) -> list[tuple[int, int]]:
    runs = caller.get(f"{FS}/runs?property=flowId=={flow_id}&orderby=createdAt").json()["items"]
    for run in runs:
        assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
    return [(r["params"]["windowStartTime"], r["params"]["windowEndTime"]) for r in runs]


@pytest.mark.parametrize("write_mode", ["replaceWindow", "merge"])
def test_late_rows_land_once_through_the_lookback(
    caller: Caller,
    sessions: sessionmaker[Session],
    worker: Worker,
    table: str,
    write_mode: str,
) -> None:
    options: dict[str, Any] = {"writeMode": write_mode}
    if write_mode == "merge":
        options["primaryKey"] = ["id"]
    flow_id, dataset_id = _late_flow(caller, sessions, table, **options)
    _arrive(table, 1, 30 * MINUTE)
    _arrive(table, 2, 55 * MINUTE)  # after tick 1's settled end (00:50): not yet read
    _tick(sessions, worker, 1)
    assert _landed(caller, dataset_id) == [1]

    _arrive(table, 3, 40 * MINUTE)  # late: its time is in tick 1's window, which already ran
    _tick(sessions, worker, 2)  # reads [-00:10, 01:50): 1 again, 2, and the late 3
    assert _landed(caller, dataset_id) == [1, 2, 3]

    _arrive(table, 4, 150 * MINUTE)
    _arrive(table, 5, 170 * MINUTE)  # exactly on tick 3's end (02:50): the next tick's
    _tick(sessions, worker, 3)  # reads [00:50, 02:50): 2 again and 4
    assert _landed(caller, dataset_id) == [1, 2, 3, 4]
    _tick(sessions, worker, 4)
    assert _landed(caller, dataset_id) == [1, 2, 3, 4, 5]

    assert _windows(caller, flow_id) == [
        (S - 70 * MINUTE, S + 50 * MINUTE),
        (S - 10 * MINUTE, S + 110 * MINUTE),
        (S + 50 * MINUTE, S + 170 * MINUTE),
        (S + 110 * MINUTE, S + 230 * MINUTE),
    ]
    runs = caller.get(f"{FS}/runs?property=flowId=={flow_id}&orderby=createdAt").json()["items"]
    due = [r["params"]["startTime"] for r in runs]
    assert due == [S + k * HOUR for k in (1, 2, 3, 4)]  # due at the tick, not shifted


def test_flow_options_are_checked_with_codes(caller: Caller, table: str) -> None:
    base = created_id(caller.post(f"{FS}/connections", json=postgres_connection()))
    source = created_id(
        caller.post(f"{FS}/sourceConnections", json=table_source(base, table, POSTGRES_SPEC))
    )
    dataset_id = created_id(caller.post(f"{CATALOG}/dataSets", json={"name": table}))
    target_id = created_id(caller.post(f"{FS}/targetConnections", json=target(dataset_id)))

    def create(options: dict[str, Any], frequency: str = "hour") -> Any:
        schedule: dict[str, Any] = {
            "startTime": str(int(time.time()) + HOUR),
            "frequency": frequency,
        }
        if frequency != "once":
            schedule["interval"] = 1
        return caller.post(
            f"{FS}/flows",
            json={
                "name": "late",
                "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
                "sourceConnectionIds": [source],
                "targetConnectionIds": [target_id],
                "transformations": []
                if frequency == "once"
                else [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}],
                "scheduleParams": schedule,
                "options": options,
            },
        )

    lookback = {"lookback": {"value": 2, "unit": "hour"}}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({**lookback, "writeMode": "append"}, "hour", "FLOW-2312-400"),
        ({"lookback": {"value": 2, "unit": "fortnight"}}, "hour", "FLOW-2311-400"),
        ({"settleDelay": {"value": 0.5, "unit": "hour"}}, "hour", "FLOW-2311-400"),
        ({"settleDelay": {"value": 1, "unit": "hour"}}, "once", "FLOW-2311-400"),
    ]
    for options, frequency, code in cases:
        response = create(options, frequency)
        assert response.status_code == 400, response.text
        assert response.json()["type"].endswith(code), (options, response.text)
    assert caller.get(f"{FS}/flows").json()["items"] == []
    ok = create({**lookback, "settleDelay": {"value": 15, "unit": "minute"}})
    flow_id = created_id(ok)
    flow = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]
    assert flow["options"]["lookback"] == {"value": 2, "unit": "hour"}
    patch = [{"op": "add", "path": "/options/writeMode", "value": "append"}]
    response = caller.patch(f"{FS}/flows/{flow_id}", json=patch, headers={"If-Match": flow["etag"]})
    assert response.json()["type"].endswith("FLOW-2312-400"), response.text
