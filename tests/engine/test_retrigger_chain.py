"""Re-triggers never land a failed run's input twice (DESIGN §5).

A failed run has at most one live re-trigger, concurrent requests included; once a re-trigger
succeeded the chain cannot be re-triggered again; and a re-trigger of a run that had in fact
committed (its failure came after the commit) recognises that commit by its transaction id
and writes nothing, in every write mode.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from sqlalchemy import update
from test_run_execution import BASE, file_flow, get_run, preview, write_csv

from sluice.config import Settings
from sluice.engine.worker import Worker
from sluice.store.db import make_engine
from sluice.store.models import Run
from support.api_bodies import FS
from support.api_runs import make_worker, run_all, start_run
from support.callers import Caller, error_code


@pytest.fixture
def worker(settings: Settings) -> Worker:
    return make_worker(settings)


def events_folder(settings: Settings) -> Path:
    folder = Path(settings.allowed_file_roots[0]) / "events"
    folder.mkdir()
    write_csv(folder / "a.csv", [["1", "click", "1.50"], ["2", "view", "2.00"]],
              BASE + timedelta(hours=1))
    write_csv(folder / "b.csv", [["3", "click", "3.00"]], BASE + timedelta(hours=2))
    return folder


def table_dir(caller: Caller, settings: Settings, flow_id: str, dataset_id: str) -> Path:
    flow = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]
    return Path(settings.lake_dir) / flow["imsOrgId"] / flow["sandboxId"] / dataset_id


def failed_run(caller: Caller, settings: Settings, worker: Worker, **options: Any
               ) -> tuple[str, str, Path]:
    """A file flow's run that failed because the dataset's folder was taken by a file; the
    folder is freed afterwards, so a re-trigger can succeed. (run id, dataset id, table dir)"""
    flow, dataset_id = file_flow(caller, events_folder(settings), **options)
    blocked = table_dir(caller, settings, flow, dataset_id)
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a folder")
    run_id = start_run(caller, flow, BASE, BASE + timedelta(days=1), delta=None)
    run_all(worker)
    assert get_run(caller, run_id)["metrics"]["statusSummary"]["status"] == "failed"
    blocked.unlink()
    return run_id, dataset_id, blocked


def retrigger(caller: Caller, run_id: str) -> Any:
    return caller.post(f"{FS}/runs/{run_id}/action?op=re-trigger")


def status_of(caller: Caller, run_id: str) -> str:
    return str(get_run(caller, run_id)["metrics"]["statusSummary"]["status"])


def event_ids(caller: Caller, dataset_id: str) -> list[int]:
    return sorted(int(row["event_id"]) for row in preview(caller, dataset_id)["rows"])


def test_a_succeeded_retrigger_closes_the_chain(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    run_id, dataset_id, _ = failed_run(caller, settings, worker, writeMode="append")
    first = retrigger(caller, run_id)
    assert first.status_code == 201, first.text
    # While the first re-trigger is scheduled, another is refused.
    assert error_code(retrigger(caller, run_id)) == "FLOW-1387-400"
    run_all(worker)
    assert status_of(caller, first.json()["id"]) == "success"
    assert event_ids(caller, dataset_id) == [1, 2, 3]

    # Re-triggering the failed run again, or the re-trigger itself, lands nothing twice.
    again = retrigger(caller, run_id)
    assert error_code(again) == "FLOW-1387-400"
    assert "succeeded" in again.json()["report"]["detailed-message"]
    assert error_code(retrigger(caller, first.json()["id"])) == "FLOW-1387-400"
    run_all(worker)
    assert event_ids(caller, dataset_id) == [1, 2, 3]


def test_a_failed_retrigger_frees_the_chain_for_another(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    run_id, dataset_id, blocked = failed_run(caller, settings, worker, writeMode="append")
    blocked.write_text("still not a folder")
    first = retrigger(caller, run_id)
    run_all(worker)
    assert status_of(caller, first.json()["id"]) == "failed"
    blocked.unlink()
    # The failed re-trigger can itself be re-triggered; it joins the same chain.
    second = retrigger(caller, first.json()["id"])
    assert second.status_code == 201, second.text
    assert error_code(retrigger(caller, run_id)) == "FLOW-1387-400"
    run_all(worker)
    second_run = get_run(caller, second.json()["id"])
    assert second_run["metrics"]["statusSummary"]["status"] == "success"
    assert second_run["activities"][0]["fileSummary"]["extensions"]["files"] == ["a.csv", "b.csv"]
    assert event_ids(caller, dataset_id) == [1, 2, 3]


def test_concurrent_retriggers_create_one_run(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    run_id, dataset_id, _ = failed_run(caller, settings, worker, writeMode="append")
    barrier = threading.Barrier(8)
    answers: list[Any] = []

    def request() -> None:
        barrier.wait()
        answers.append(retrigger(caller, run_id))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 1, [a.text for a in answers]
    assert sorted(error_code(a) for a in answers if a.status_code != 201) == ["FLOW-1387-400"] * 7
    run_all(worker)
    assert event_ids(caller, dataset_id) == [1, 2, 3]
    retriggers = caller.get(f"{FS}/runs?property=flowId=={get_run(caller, run_id)['flowId']}")
    assert len(retriggers.json()["items"]) == 2  # the failed run and its one re-trigger


@pytest.mark.parametrize(
    "options",
    [
        {"writeMode": "append"},
        {"writeMode": "replaceWindow"},
        {"writeMode": "merge", "primaryKey": ["event_id"]},
    ],
    ids=["append", "replaceWindow", "merge"],
)
def test_retrigger_of_a_run_that_had_committed_lands_nothing(
    caller: Caller, settings: Settings, worker: Worker, options: dict[str, Any]
) -> None:
    flow, dataset_id = file_flow(caller, events_folder(settings), **options)
    run_id = start_run(caller, flow, BASE, BASE + timedelta(days=1), delta=None)
    run_all(worker)
    assert status_of(caller, run_id) == "success"
    location = table_dir(caller, settings, flow, dataset_id)
    version = DeltaTable(str(location)).version()
    # The run committed, then failed before it could say so (as a crash after the commit
    # that ended up recorded as a failure would leave it).
    engine = make_engine(settings.resolved_database_url)
    with engine.begin() as connection:
        connection.execute(update(Run).where(Run.id == run_id).values(status="failed"))
    engine.dispose()

    retried = retrigger(caller, run_id)
    assert retried.status_code == 201, retried.text
    run_all(worker)
    again = get_run(caller, retried.json()["id"])
    assert again["metrics"]["statusSummary"]["status"] == "success"
    assert again["metrics"]["recordSummary"]["outputRecordCount"] == 0
    promotion = again["activities"][1]["statusSummary"]["extensions"]
    assert promotion == {"dataSetId": dataset_id, "deltaVersion": version, "landedByRun": run_id}
    assert DeltaTable(str(location)).version() == version  # no new commit at all
    assert event_ids(caller, dataset_id) == [1, 2, 3]
