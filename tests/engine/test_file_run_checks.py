"""File-source runs (issue 13): each reconciles the files and bytes it listed against those it
read, and a source path that matches nothing at all fails the run with a coded error naming
it, while an existing folder with no file in the window is a normal empty run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from test_run_execution import BASE, file_flow, get_run, write_csv

from sluice.config import Settings
from sluice.engine.worker import Worker
from support.api_runs import run_all, start_run
from support.callers import Caller


def test_a_file_run_reconciles_files_and_bytes(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    folder = Path(settings.allowed_file_roots[0]) / "events"
    folder.mkdir()
    write_csv(folder / "a.csv", [["1", "click", "1.50"]], BASE + timedelta(hours=1))
    write_csv(folder / "b.csv", [["2", "view", "2.50"]], BASE + timedelta(hours=2))
    flow, _dataset = file_flow(caller, folder)
    run_id = start_run(caller, flow, BASE, BASE + timedelta(days=1), delta=None)
    run_all(worker)
    metrics = get_run(caller, run_id)["metrics"]
    assert metrics["statusSummary"]["status"] == "success", metrics
    size = sum((folder / name).stat().st_size for name in ("a.csv", "b.csv"))
    assert metrics["reconciliation"] == {"filesListed": 2, "filesRead": 2, "bytesListed": size,
                                         "bytesRead": size, "matched": True}


def test_a_path_that_matches_nothing_fails_the_run_naming_it(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    folder = Path(settings.allowed_file_roots[0]) / "events"
    folder.mkdir()
    write_csv(folder / "a.csv", [["1", "click", "1.50"]], BASE + timedelta(hours=1))
    flow, _dataset = file_flow(caller, folder)
    # A window with no file in it: a normal, empty, successful run.
    empty = start_run(caller, flow, BASE + timedelta(days=3), BASE + timedelta(days=4),
                      delta=None)
    run_all(worker)
    metrics = get_run(caller, empty)["metrics"]
    assert metrics["statusSummary"]["status"] == "success"
    assert metrics["fileSummary"]["inputFileCount"] == 0
    # The only file goes: `*.csv` now matches nothing at all, which is not a success.
    (folder / "a.csv").unlink()
    missing = start_run(caller, flow, BASE, BASE + timedelta(days=1), delta=None)
    run_all(worker)
    status = get_run(caller, missing)["metrics"]["statusSummary"]
    assert status["status"] == "failed"
    [error] = status["errors"]
    assert error["code"] == "CONNECTOR-1002-500"
    assert "'*.csv'" in error["message"]
