"""Run logs: a real run's entries (stages, counters), size bounds and coalescing, secrets
scrubbed, the API's paging and tenancy, and deletion with the flow; on both stores."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from test_run_execution import BASE, get_run, make_orders, table_flow

from sluice.config import Settings
from sluice.domain.tenancy import Tenant
from sluice.engine.metrics import RunMetrics
from sluice.engine.run_log import RESERVED_FOR_END, RunLog
from sluice.engine.worker import Worker
from sluice.store.db import make_engine, make_session_factory
from sluice.store.models import Flow, Run, RunLogEntry
from support.api_bodies import CATALOG, FS, TABLE_FLOW_SPEC, created_id
from support.api_runs import epoch, run_all, start_run
from support.callers import Caller, error_code
from support.connector_reads import FAKE_PASSWORD, pg_auth, pg_execute

POSTGRESQL_SPEC = "1bed8a75-0487-4216-85f5-94ddf2058992"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"


def logs(caller: Caller, run_id: str, query: str = "") -> dict[str, Any]:
    response = caller.get(f"{FS}/runs/{run_id}/logs{query}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_table_run_logs_each_stage_with_counters(
    caller: Caller, other_caller: Caller, settings: Settings, worker: Worker
) -> None:
    flow, _ = table_flow(caller, make_orders(Path(settings.allowed_file_roots[0])))
    run_id = start_run(caller, flow, BASE + timedelta(hours=2), BASE + timedelta(hours=12))
    assert run_all(worker) == 1
    page = logs(caller, run_id)
    entries = page["items"]
    assert page["runStatus"] == "success"
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    stages = [e["stage"] for e in entries]
    for stage in ("claim", "plan", "reflect", "schema", "read", "commit", "end"):
        assert stage in stages, stages
    assert stages[0] == "claim" and stages[-1] == "end"
    plan = next(e for e in entries if e["stage"] == "plan")
    assert "[2024-05-01T02:00:00Z, 2024-05-01T12:00:00Z)" in plan["message"]
    assert "table orders" in plan["message"]
    end = entries[-1]
    assert end["level"] == "info" and end["message"].startswith("Run succeeded: 10 records read")
    assert end["counters"]["recordsRead"] == 10 and end["counters"]["recordsWritten"] == 10
    commit = next(e for e in entries if e["stage"] == "commit")
    assert commit["message"].startswith("Committed Delta version 0: 10 rows")
    assert all(e["time"].endswith("Z") and e["attempt"] == 1 for e in entries)

    # Paging: start/limit and the since cursor agree; an empty page keeps the cursor.
    first = logs(caller, run_id, "?limit=2")
    assert [e["seq"] for e in first["items"]] == [1, 2] and first["since"] == 2
    assert logs(caller, run_id, "?start=2&limit=2")["items"] == entries[2:4]
    assert logs(caller, run_id, f"?since={first['since']}")["items"] == entries[2:]
    tail = logs(caller, run_id, f"?since={len(entries)}")
    assert tail["items"] == [] and tail["since"] == len(entries)
    assert error_code(caller.get(f"{FS}/runs/{run_id}/logs?limit=0")).endswith("-400")

    # Another tenant sees no such run.
    assert other_caller.get(f"{FS}/runs/{run_id}/logs").status_code == 404
    assert caller.get(f"{FS}/runs/{uuid.uuid4()}/logs").status_code == 404


def test_a_failed_run_logs_the_coded_error(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, _ = table_flow(caller, db)
    run_id = start_run(caller, flow, BASE, BASE + timedelta(hours=3))
    with sqlite3.connect(db) as connection:  # the source table goes away before the run
        connection.execute("DROP TABLE orders")
    assert run_all(worker) == 1
    assert get_run(caller, run_id)["metrics"]["statusSummary"]["status"] == "failed"
    entries = logs(caller, run_id)["items"]
    errors = [e for e in entries if e["level"] == "error"]
    assert errors and errors[-1]["stage"] == "end"
    assert any("CONNECTOR-" in e["message"] or "FLOW-" in e["message"] for e in errors), errors


@pytest.fixture
def secret_table() -> Any:
    """A PostgreSQL table named like the connection's password, so the run's plan entry (which
    names the source table) would show the password if the log did not scrub it."""
    quoted = '"' + FAKE_PASSWORD + '"'
    pg_execute(f"DROP TABLE IF EXISTS {quoted}")
    pg_execute(f"CREATE TABLE {quoted} (id int, updated_at timestamp)")
    pg_execute(f"INSERT INTO {quoted} VALUES (1, '2024-05-01 01:00:00'), (2, '2024-05-01 02:00')")
    yield FAKE_PASSWORD
    pg_execute(f"DROP TABLE IF EXISTS {quoted}")


def test_a_connection_password_never_appears_in_the_log(
    caller: Caller, worker: Worker, secret_table: str
) -> None:
    base = created_id(caller.post(f"{FS}/connections", json={
        "name": "pg", "connectionSpec": {"id": POSTGRESQL_SPEC, "version": "1.0"},
        "auth": {"specName": "Basic Authentication", "params": pg_auth()}}))
    source = created_id(caller.post(f"{FS}/sourceConnections", json={
        "name": "secret table", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": secret_table}, "connectionSpec": {"id": POSTGRESQL_SPEC}}))
    dataset = created_id(caller.post(f"{CATALOG}/dataSets", json={"name": "secret"}))
    target = created_id(caller.post(f"{FS}/targetConnections", json={
        "name": "lake", "params": {"dataSetId": dataset},
        "connectionSpec": {"id": DATA_LAKE_SPEC}}))
    flow = created_id(caller.post(f"{FS}/flows", json={
        "name": "secret flow", "flowSpec": {"id": TABLE_FLOW_SPEC},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "scheduleParams": {"startTime": str(epoch(BASE) + 10**8), "frequency": "once"}}))
    run_id = start_run(caller, flow, BASE, BASE + timedelta(hours=3))
    assert run_all(worker) == 1
    page = logs(caller, run_id)
    assert page["runStatus"] == "success", page
    text = str(page)
    assert FAKE_PASSWORD not in text
    plan = next(e for e in page["items"] if e["stage"] == "plan")
    assert "table ***" in plan["message"]


def test_entries_are_deleted_with_the_flow(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    flow, _ = table_flow(caller, make_orders(Path(settings.allowed_file_roots[0])))
    run_id = start_run(caller, flow, BASE, BASE + timedelta(hours=3))
    assert run_all(worker) == 1
    engine = make_engine(settings.resolved_database_url)
    try:
        count = select(func.count()).select_from(RunLogEntry).where(RunLogEntry.run_id == run_id)
        with engine.connect() as connection:
            assert connection.scalar(count)
        assert caller.delete(f"{FS}/flows/{flow}").status_code == 204
        with engine.connect() as connection:
            assert connection.scalar(count) == 0
    finally:
        engine.dispose()


# The writer on its own, against a real store: bounds, coalescing and flush points.


@pytest.fixture
def run_row(sessions: sessionmaker[Session], tenant: Tenant) -> str:
    """A bare run row to hang log entries on."""
    now = epoch(BASE) * 1000
    system = {"created_at": now, "updated_at": now, "created_by": "t", "updated_by": "t",
              "created_client": "t", "updated_client": "t", "etag": '"1"', "doc": {},
              "org_id": tenant.org_id, "sandbox_id": tenant.sandbox_id}
    flow_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    with sessions.begin() as session:
        session.execute(insert(Flow).values(id=flow_id, name="f", flow_spec_id="x", **system))
        session.execute(insert(Run).values(id=run_id, name="r", flow_id=flow_id,
                                           status="inProgress", origin="api", start_at=0,
                                           **system))
    return run_id


def stored(sessions: sessionmaker[Session], run_id: str) -> list[RunLogEntry]:
    with sessions() as session:
        return list(session.scalars(
            select(RunLogEntry).where(RunLogEntry.run_id == run_id).order_by(RunLogEntry.seq)))


def ticking_clock(step_ms: int) -> Callable[[], int]:
    now = [0]

    def tick() -> int:
        now[0] += step_ms
        return now[0]
    return tick


def test_a_run_keeps_at_most_max_entries_and_says_how_many_were_dropped(
    sessions: sessionmaker[Session], run_row: str
) -> None:
    run_log = RunLog(run_row, 1, max_entries=20, now_ms=ticking_clock(1))
    for i in range(50):
        run_log.info("file", f"Reading file f{i}.csv")
    with sessions.begin() as session:
        run_log.flush(session)  # room is kept for the end
    assert len(stored(sessions, run_row)) == 20 - RESERVED_FOR_END
    for i in range(50, 60):
        run_log.info("file", f"Reading file f{i}.csv")
    run_log.info("commit", "Committed Delta version 3")
    run_log.info("end", "Run succeeded")
    with sessions.begin() as session:
        run_log.flush(session, final=True)
    entries = stored(sessions, run_row)
    assert len(entries) == 20
    assert [e.seq for e in entries] == list(range(1, 21))
    assert [e.stage for e in entries[-3:]] == ["commit", "end", "log"]
    last = entries[-1]
    dropped = 60 + 2 - 19
    assert last.level == "warning" and last.message.startswith(f"truncated: {dropped} entries")
    assert last.counters == {"dropped": dropped}

    # The next attempt (a retry, perhaps on another worker) continues the numbering and
    # stores nothing past the bound.
    retry = RunLog(run_row, 2, max_entries=20)
    retry.info("claim", "Attempt 2")
    with sessions.begin() as session:
        retry.flush(session, final=True)
    assert len(stored(sessions, run_row)) == 20


def test_batches_coalesce_into_few_progress_entries(
    sessions: sessionmaker[Session], run_row: str
) -> None:
    """10,000 batches over 100 s of run: one progress entry at 1, 2, 4, ... 64 s apart."""
    run_log = RunLog(run_row, 1, max_entries=500, now_ms=ticking_clock(10))
    metrics = RunMetrics(window=None, started_at=0)
    for _ in range(10_000):
        metrics.add_batch(500, 500, [], 4_000)
        run_log.batches += 1
        run_log.progress(metrics)
    run_log.progress(metrics, force=True)
    with sessions.begin() as session:
        run_log.flush(session, final=True)
    entries = stored(sessions, run_row)
    assert 5 <= len(entries) <= 12, [e.message for e in entries]
    assert {e.stage for e in entries} == {"read"}
    assert entries[-1].counters is not None
    assert entries[-1].counters["recordsRead"] == 5_000_000
    assert entries[-1].message == (
        "Read 5,000,000 records in 10,000 batches (40,000,000 bytes) so far"
    )


def test_messages_are_scrubbed_before_they_are_stored(
    sessions: sessionmaker[Session], run_row: str
) -> None:
    run_log = RunLog(run_row, 1, max_entries=50, secrets=["hunter2-secret"])
    run_log.error("end", "login failed for hunter2-secret at postgresql://bob:pw@db/x")
    run_log.warning("retry", "dsn host=db password=topsecret dbname=x")
    with sessions.begin() as session:
        run_log.flush(session, final=True)
    messages = [e.message for e in stored(sessions, run_row)]
    assert messages == [
        "login failed for *** at postgresql://bob:***@db/x",
        "dsn host=db password=*** dbname=x",
    ]


def test_nothing_is_stored_when_the_transaction_rolls_back(
    database_url: str, run_row: str
) -> None:
    """Entries ride in the caller's transaction: a refused claim writes none of them."""
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    run_log = RunLog(run_row, 1, max_entries=50)
    run_log.info("read", "something")
    with pytest.raises(RuntimeError), sessions.begin() as session:
        run_log.flush(session)
        raise RuntimeError("claim refused")
    assert stored(sessions, run_row) == []
    engine.dispose()
