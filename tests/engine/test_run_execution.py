"""Runs executed for real: API request -> worker claim -> source read -> Delta commit -> metrics.

The API is driven over HTTP (in-process client); a real `Worker` executes the run on the same
metadata database; the dataset is read back through the preview endpoint.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import update

from sluice.config import Settings
from sluice.connectors.contract import FunctionConnector
from sluice.engine.worker import Worker
from sluice.lake.location import LakeTable
from sluice.store.db import make_engine
from sluice.store.models import Run
from support.api_bodies import (
    CATALOG,
    FILE_FLOW_SPEC,
    FS,
    TABLE_FLOW_SPEC,
    created_id,
)
from support.api_runs import epoch, make_worker, run_all, start_run
from support.callers import Caller, error_code
from support.net import closed_port
from support.sample_flows import (
    BASE,
    events_csv_source,
    make_orders,
    once_flow,
    sqlite_table_source,
)
from support.sample_flows import write_events_csv as write_csv

DAY = 86_400


@pytest.fixture
def worker(settings: Settings) -> Worker:
    return make_worker(settings)


def table_flow(caller: Caller, db: Path, **options: Any) -> tuple[str, str]:
    source, dataset_id = sqlite_table_source(caller, db, "orders", name="orders")
    return once_flow(caller, "orders flow", TABLE_FLOW_SPEC, source, dataset_id,
                     **options), dataset_id


def get_run(caller: Caller, run_id: str) -> dict[str, Any]:
    return dict(caller.get(f"{FS}/runs/{run_id}").json()["items"][0])


def preview(caller: Caller, dataset_id: str) -> dict[str, Any]:
    response = caller.get(f"{CATALOG}/dataSets/{dataset_id}/preview?limit=1000")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_table_window_lands_in_one_commit_with_metrics(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, dataset_id = table_flow(caller, db)
    run_id = start_run(caller, flow, BASE + timedelta(hours=2), BASE + timedelta(hours=12))
    assert run_all(worker) == 1
    run = get_run(caller, run_id)
    metrics = run["metrics"]
    assert metrics["statusSummary"]["status"] == "success", metrics
    assert metrics["recordSummary"]["inputRecordCount"] == 10
    assert metrics["recordSummary"]["outputRecordCount"] == 10
    assert metrics["durationSummary"]["completedAtUTC"] >= metrics["durationSummary"][
        "startedAtUTC"]
    copy, promotion = run["activities"]
    assert copy["durationSummary"]["extensions"] == {
        "windowStart": epoch(BASE + timedelta(hours=2)) * 1000,
        "windowEnd": epoch(BASE + timedelta(hours=12)) * 1000}
    assert promotion["statusSummary"]["extensions"]["dataSetId"] == dataset_id
    assert promotion["statusSummary"]["extensions"]["deltaVersion"] == 0
    rows = preview(caller, dataset_id)
    assert sorted(r["id"] for r in rows["rows"]) == list(range(2, 12))
    assert {c["name"] for c in rows["columns"]} >= {"id", "updated_at", "_sluice_run_id",
                                                    "_sluice_ingested_at"}
    assert all(r["_sluice_run_id"] == run_id for r in rows["rows"])
    flow_item = caller.get(f"{FS}/flows/{flow}").json()["items"][0]
    assert flow_item["lastRunDetails"]["id"] == run_id
    assert flow_item["lastRunDetails"]["state"] == "success"


def test_consecutive_windows_cover_the_table_once_and_reruns_change_nothing(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, dataset_id = table_flow(caller, db)
    for hours in range(0, 48, 12):
        start_run(caller, flow, BASE + timedelta(hours=hours), BASE + timedelta(hours=hours + 12))
    assert run_all(worker) == 4
    first = preview(caller, dataset_id)
    assert sorted(r["id"] for r in first["rows"]) == list(range(48))
    # Re-running a window replaces it: same rows, no duplicates.
    start_run(caller, flow, BASE + timedelta(hours=12), BASE + timedelta(hours=24))
    assert run_all(worker) == 1
    again = preview(caller, dataset_id)
    assert sorted(r["id"] for r in again["rows"]) == list(range(48))
    assert again["version"] == first["version"] + 1


def test_a_run_into_an_existing_table_opens_it_once(
    caller: Caller, settings: Settings, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, dataset_id = table_flow(caller, db)
    start_run(caller, flow, BASE, BASE + timedelta(hours=12))
    assert run_all(worker) == 1
    opened: list[str] = []
    real_open = LakeTable.open

    def counted_open(table: LakeTable) -> Any:
        opened.append(table.uri)
        return real_open(table)

    monkeypatch.setattr(LakeTable, "open", counted_open)
    run_id = start_run(caller, flow, BASE + timedelta(hours=12), BASE + timedelta(hours=24))
    assert run_all(worker) == 1
    assert get_run(caller, run_id)["metrics"]["statusSummary"]["status"] == "success"
    # Its schema and its write share one snapshot; the commit is read off that snapshot.
    assert len(opened) == 1, opened
    monkeypatch.undo()
    assert sorted(r["id"] for r in preview(caller, dataset_id)["rows"]) == list(range(24))


def test_the_table_opens_while_the_source_read_starts(
    caller: Caller, settings: Settings, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of the two waits for the other to have started: one after the other, the first
    would wait in vain."""
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, _dataset = table_flow(caller, db)
    start_run(caller, flow, BASE, BASE + timedelta(hours=12))
    assert run_all(worker) == 1
    open_started, read_started = threading.Event(), threading.Event()
    saw: dict[str, bool] = {}
    real_open, real_read = LakeTable.open, FunctionConnector.read

    def slow_open(table: LakeTable) -> Any:
        open_started.set()
        saw["read, from the open"] = read_started.wait(timeout=5)
        return real_open(table)

    def slow_read(connector: FunctionConnector, *args: Any) -> Any:
        read_started.set()
        saw["open, from the read"] = open_started.wait(timeout=5)
        return real_read(connector, *args)

    monkeypatch.setattr(LakeTable, "open", slow_open)
    monkeypatch.setattr(FunctionConnector, "read", slow_read)
    run_id = start_run(caller, flow, BASE + timedelta(hours=12), BASE + timedelta(hours=24))
    assert run_all(worker) == 1
    assert saw == {"read, from the open": True, "open, from the read": True}
    assert get_run(caller, run_id)["metrics"]["statusSummary"]["status"] == "success"


def test_missing_delta_column_is_a_400_at_creation(caller: Caller, settings: Settings) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, _dataset = table_flow(caller, db)
    response = caller.post(f"{FS}/runs", json={"flowId": flow, "params": {
        "startTime": "0", "windowStartTime": "0", "windowEndTime": "10",
        "deltaColumn": {"name": "nope"}}})
    assert response.status_code == 400
    assert "nope" in response.json()["report"]["detailed-message"]
    assert error_code(response).startswith("FLOW-")
    flow_item = caller.get(f"{FS}/flows/{flow}").json()["items"][0]
    assert flow_item["transformations"] == []


def _lake_down(table: LakeTable) -> Any:
    raise RuntimeError("the lake is down")


@pytest.mark.parametrize("lake_down", [False, True])
def test_vanished_source_fails_the_run_with_a_code_and_writes_nothing(
    caller: Caller,
    settings: Settings,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
    lake_down: bool,
) -> None:
    """With the lake failing too (the table opens while the read starts), the source's
    refusal is still the run's error, and no opening thread is left behind."""
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, dataset_id = table_flow(caller, db)
    run_id = start_run(caller, flow, BASE, BASE + timedelta(hours=5))
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE orders")
    if lake_down:
        monkeypatch.setattr(LakeTable, "open", _lake_down)
    run_all(worker)
    run = get_run(caller, run_id)
    assert run["metrics"]["statusSummary"]["status"] == "failed"
    error = run["metrics"]["statusSummary"]["errors"][0]
    assert error["code"].startswith("CONNECTOR-")
    assert "orders" in error["message"]
    assert "lake" not in error["message"]
    assert not [t for t in threading.enumerate() if t.name == "sluice-table-open"]
    monkeypatch.undo()
    assert preview(caller, dataset_id)["rows"] == []
    assert caller.get(f"{FS}/flows/{flow}").json()["items"][0]["lastRunDetails"]["state"] == (
        "failed")


def file_flow(caller: Caller, folder: Path, **options: Any) -> tuple[str, str]:
    source, dataset_id = events_csv_source(caller, folder)
    return once_flow(caller, "events flow", FILE_FLOW_SPEC, source, dataset_id,
                     **options), dataset_id


def events_folder(settings: Settings,
                  files: dict[str, tuple[list[list[str]], datetime]]) -> Path:
    """A new `events` folder holding these CSV files: name -> (rows, modified)."""
    folder = Path(settings.allowed_file_roots[0]) / "events"
    folder.mkdir()
    for name, (rows, modified) in files.items():
        write_csv(folder / name, rows, modified)
    return folder


def first_day_run(caller: Caller, worker: Worker, folder: Path, *,
                  partial_percent: int) -> tuple[str, str]:
    """(run, dataset) of a file flow with error diagnostics over `folder`, run over BASE's
    day until the worker has nothing left."""
    flow, dataset_id = file_flow(caller, folder, errorDiagnosticsEnabled=True,
                                 partialIngestionPercent=partial_percent)
    run_id = start_run(caller, flow, BASE, BASE + timedelta(days=1), delta=None)
    run_all(worker)
    return run_id, dataset_id


def test_file_window_reads_files_modified_in_it_and_quarantines_bad_rows(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    folder = events_folder(settings, {
        "a.csv": ([["1", "click", "1.50"], ["2", "view", "oops"]], BASE + timedelta(hours=1)),
        "b.csv": ([["3", "click", "2.00"]], BASE + timedelta(hours=30))})
    run_id, dataset_id = first_day_run(caller, worker, folder, partial_percent=50)
    run = get_run(caller, run_id)
    metrics = run["metrics"]
    assert metrics["statusSummary"]["status"] == "success", metrics
    assert metrics["fileSummary"]["inputFileCount"] == 1
    assert metrics["recordSummary"] == {"inputRecordCount": 2, "outputRecordCount": 1,
                                        "failedRecordCount": 1}
    assert metrics["statusSummary"]["errors"][0]["code"] == "INGEST-1212-400"
    bad = caller.get(f"{FS}/runs/{run_id}/badRows").json()["items"]
    assert len(bad) == 1 and "amount" in bad[0]["reason"] and "a.csv" in bad[0]["location"]
    rows = preview(caller, dataset_id)["rows"]
    assert [(r["event_id"], r["amount"], r["_sluice_source_file"]) for r in rows] == [
        (1, "1.50", "a.csv")]


def test_failed_share_above_the_threshold_fails_and_commits_nothing(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    folder = events_folder(settings, {
        "a.csv": ([["1", "click", "x"], ["2", "view", "1.00"]], BASE + timedelta(hours=1))})
    run_id, dataset_id = first_day_run(caller, worker, folder, partial_percent=10)
    run = get_run(caller, run_id)
    assert run["metrics"]["statusSummary"]["status"] == "failed"
    assert "partialIngestionPercent" in run["metrics"]["statusSummary"]["errors"][0]["message"]
    assert preview(caller, dataset_id)["rows"] == []
    # A failed run can be re-triggered: same window, same files.
    retried = caller.post(f"{FS}/runs/{run_id}/action?op=re-trigger")
    assert retried.status_code == 201, retried.text
    new_run = get_run(caller, retried.json()["id"])
    assert new_run["params"]["windowStartTime"] == epoch(BASE)
    assert new_run["metrics"]["statusSummary"]["status"] == "scheduled"
    # A file that arrived in the window since is not read by the re-trigger: same files only.
    write_csv(folder / "late.csv", [["9", "click", "9.00"]], BASE + timedelta(hours=2))
    run_all(worker)
    retried_run = get_run(caller, retried.json()["id"])
    copy = retried_run["activities"][0]
    assert copy["fileSummary"]["extensions"]["files"] == ["a.csv"]
    assert retried_run["metrics"]["recordSummary"]["inputRecordCount"] == 2


def test_target_failing_mid_write_fails_the_run_and_leaves_no_data(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, dataset_id = table_flow(caller, db)
    run_id = start_run(caller, flow, BASE, BASE + timedelta(hours=5))
    # The dataset's table folder is taken by a file: the Delta write cannot happen.
    dataset = caller.get(f"{CATALOG}/dataSets/{dataset_id}").json()[dataset_id]
    table_dir = Path(settings.lake_dir) / dataset["imsOrg"] / dataset["sandboxId"] / dataset_id
    table_dir.parent.mkdir(parents=True)
    table_dir.write_text("not a folder")
    run_all(worker)
    run = get_run(caller, run_id)
    assert run["metrics"]["statusSummary"]["status"] == "failed"
    assert run["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-3001-500"
    table_dir.unlink()
    assert preview(caller, dataset_id)["rows"] == []


def test_unreachable_source_is_retried_then_fails_with_a_coded_safe_message(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    table = f"rx_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id int, updated_at timestamptz)")  # type: ignore[arg-type]
        conn.execute(f"INSERT INTO {table} VALUES (1, '2024-05-01T01:00:00Z')")  # type: ignore[arg-type]
    try:
        base = created_id(caller.post(f"{FS}/connections", json={
            "name": "pg", "connectionSpec": {"id": "1bed8a75-0487-4216-85f5-94ddf2058992"},
            "auth": {"specName": "Basic Authentication", "params": {
                "host": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres",
                "password": "Never-Logged-99"}}}))
        source = created_id(caller.post(f"{FS}/sourceConnections", json={
            "name": "t", "baseConnectionId": base, "data": {"format": "tabular"},
            "params": {"tableName": table},
            "connectionSpec": {"id": "1bed8a75-0487-4216-85f5-94ddf2058992"}}))
        dataset_id = created_id(caller.post(f"{CATALOG}/dataSets", json={"name": "t"}))
        target = created_id(caller.post(f"{FS}/targetConnections", json={
            "name": "lake", "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c"}}))
        flow = created_id(caller.post(f"{FS}/flows", json={
            "name": "pg flow", "flowSpec": {"id": TABLE_FLOW_SPEC},
            "sourceConnectionIds": [source], "targetConnectionIds": [target],
            "scheduleParams": {"startTime": str(epoch(datetime.now(UTC)) + 3600),
                               "frequency": "once"}}))
        run_id = start_run(caller, flow, BASE, BASE + timedelta(hours=5))
        etag = caller.get(f"{FS}/connections/{base}").json()["items"][0]["etag"]
        patched = caller.patch(f"{FS}/connections/{base}", headers={"If-Match": etag}, json=[
            {"op": "replace", "path": "/auth/params/port", "value": closed_port()}])
        assert patched.status_code == 200
        engine = make_engine(settings.resolved_database_url)
        try:
            for attempt in range(1, 4):
                assert worker.run_once(), f"attempt {attempt} was not claimed"
                run = get_run(caller, run_id)
                if attempt < 3:
                    assert run["metrics"]["statusSummary"]["status"] == "inProgress"
                    # Skip the backoff wait: the retry becomes due now.
                    with engine.begin() as conn:
                        conn.execute(update(Run).where(Run.id == run_id)
                                     .values(lease_expires_at=0))
        finally:
            engine.dispose()
        run = get_run(caller, run_id)
        assert run["metrics"]["statusSummary"]["status"] == "failed"
        error = run["metrics"]["statusSummary"]["errors"][0]
        assert error["code"] == "CONNECTOR-1001-500"
        assert "Never-Logged-99" not in str(run)
        assert preview(caller, dataset_id)["rows"] == []
    finally:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=test",
                             autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")  # type: ignore[arg-type]

