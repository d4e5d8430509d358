"""Runs with the `parallelism` flow option, executed for real: a table window read in 4
sub-windows and a file window read 4 files at a time land exactly what a serial run lands,
in one Delta commit; a sub-window that fails fails the run and commits nothing."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mapping_runs import table

from sluice.config import Settings
from sluice.connectors.tables import split_windows
from sluice.engine.worker import Worker
from support.api_bodies import CATALOG, FILE_FLOW_SPEC, FS, TABLE_FLOW_SPEC
from support.api_runs import run_all, start_run
from support.callers import Caller
from support.sample_flows import (
    BASE,
    events_csv_source,
    make_orders,
    once_flow,
    sqlite_table_source,
)
from support.sample_flows import write_events_csv as write_csv


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of a few dozen rows are split too (real ones need MIN_ROWS_PER_PART each)."""
    monkeypatch.setattr(split_windows, "MIN_ROWS_PER_PART", 1)


# 44 hourly rows from BASE+2h: 4 sub-windows of 11 hours, each cut on an hourly row.
START, END = BASE + timedelta(hours=2), BASE + timedelta(hours=46)


def table_run(caller: Caller, worker: Worker, db: Path, parallelism: int) -> tuple[str, str]:
    source, dataset_id = sqlite_table_source(
        caller, db, "orders", name=f"orders {parallelism}", dataset_name=f"orders {parallelism}")
    flow = once_flow(caller, f"orders {parallelism}", TABLE_FLOW_SPEC, source, dataset_id,
                     parallelism=parallelism)
    run_id = start_run(caller, flow, START, END)
    assert run_all(worker) == 1
    return run_id, dataset_id


def run_doc(caller: Caller, run_id: str) -> dict[str, Any]:
    return dict(caller.get(f"{FS}/runs/{run_id}").json()["items"][0])


def landed(settings: Settings, caller: Caller, dataset_id: str, key: str) -> list[dict[str, Any]]:
    delta = table(settings, caller, dataset_id)
    assert delta is not None
    assert delta.version() == 0 and len(delta.history()) == 1  # one commit for the run
    rows = delta.to_pyarrow_table().drop_columns(["_sluice_run_id", "_sluice_ingested_at"])
    return list(rows.sort_by(key).to_pylist())


def test_a_table_window_in_four_sub_windows_lands_what_one_read_lands(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    serial_run, serial = table_run(caller, worker, db, 1)
    parallel_run, parallel = table_run(caller, worker, db, 4)
    rows = landed(settings, caller, parallel, "id")
    assert rows == landed(settings, caller, serial, "id")
    assert [r["id"] for r in rows] == list(range(2, 46))  # start in, end out, cuts once
    for run_id in (serial_run, parallel_run):
        metrics = run_doc(caller, run_id)["metrics"]
        assert metrics["statusSummary"]["status"] == "success", metrics
        assert metrics["recordSummary"]["inputRecordCount"] == 44
        assert metrics["recordSummary"]["outputRecordCount"] == 44
        assert metrics["reconciliation"]["matched"] is True
    serial_types = table(settings, caller, serial).schema().to_json()  # type: ignore[union-attr]
    assert table(settings, caller, parallel).schema().to_json() == serial_types  # type: ignore[union-attr]


def test_a_failing_sub_window_fails_the_run_and_commits_nothing(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    with sqlite3.connect(db) as connection:  # row 30 lies in the third sub-window only
        connection.execute("UPDATE orders SET amount = 'lots' WHERE id = 30")
    connection.close()
    run_id, dataset_id = table_run(caller, worker, db, 4)
    status = run_doc(caller, run_id)["metrics"]["statusSummary"]
    assert status["status"] == "failed"
    assert [e["code"] for e in status["errors"]] == ["CONNECTOR-2001-500"]
    assert "amount" in status["errors"][0]["message"]
    assert table(settings, caller, dataset_id) is None


def test_a_file_window_read_four_files_at_a_time_lands_every_row_once(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    folder = Path(settings.allowed_file_roots[0]) / "events"
    folder.mkdir()
    for number in range(7):
        rows = [[str(number * 100 + i), "click", f"{i}.50"] for i in range(number * 3)]
        write_csv(folder / f"f{number}.csv", rows, BASE + timedelta(hours=number))
    datasets = []
    for parallelism in (1, 4):
        source, dataset_id = events_csv_source(caller, folder)
        flow = once_flow(caller, f"events {parallelism}", FILE_FLOW_SPEC, source, dataset_id,
                         parallelism=parallelism)
        run_id = start_run(caller, flow, BASE, BASE + timedelta(days=1), delta=None)
        assert run_all(worker) == 1
        metrics = run_doc(caller, run_id)["metrics"]
        assert metrics["statusSummary"]["status"] == "success", metrics
        assert metrics["recordSummary"]["inputRecordCount"] == sum(n * 3 for n in range(7))
        assert metrics["fileSummary"]["inputFileCount"] == 7
        datasets.append(landed(settings, caller, dataset_id, "event_id"))
    assert datasets[0] == datasets[1]
    assert caller.get(f"{CATALOG}/dataSets").status_code == 200
