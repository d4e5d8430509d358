"""The worker loop: executes claimed runs, heartbeats, survives errors, stops gracefully."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select

from sluice.domain.tenancy import Tenant
from sluice.engine import claims
from sluice.engine.claims import Claim, ClaimGuard, StaleClaimError
from sluice.engine.worker import Worker
from sluice.store.models import Worker as WorkerRow
from support.run_rows import Sessions, add_runs, finish_success, get_run, make_flow, set_run

PATIENCE = 30.0  # seconds to wait for something that should happen promptly


def finisher(sessions: Sessions, done: list[str]) -> Callable[[Claim, ClaimGuard], None]:
    def execute(claim: Claim, _guard: ClaimGuard) -> None:
        finish_success(sessions, claim, output_records=1)
        done.append(claim.run_id)

    return execute


def eventually(condition: Callable[[], bool]) -> None:
    pause = threading.Event()
    for _ in range(int(PATIENCE / 0.01)):
        if condition():
            return
        pause.wait(0.01)
    pytest.fail("condition never became true")


def worker_row(sessions: Sessions, worker_id: str) -> WorkerRow | None:
    with sessions() as session:
        return session.scalar(select(WorkerRow).where(WorkerRow.id == worker_id))


def test_run_once_executes_one_due_run(sessions: Sessions, tenant: Tenant) -> None:
    run_ids = add_runs(sessions, make_flow(sessions, tenant), 2)
    done: list[str] = []
    worker = Worker(sessions, finisher(sessions, done), worker_id="w1")
    assert worker.run_once() and worker.run_once()
    assert not worker.run_once()
    assert done == run_ids
    assert {get_run(sessions, run_id).status for run_id in run_ids} == {"success"}
    row = worker_row(sessions, "w1")
    assert row is not None and row.current_run_id is None


def test_the_workers_row_names_the_run_in_hand(sessions: Sessions, tenant: Tenant) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    seen: list[str | None] = []

    def execute(claim: Claim, _guard: ClaimGuard) -> None:
        row = worker_row(sessions, "w1")
        seen.append(row.current_run_id if row else None)

    Worker(sessions, execute, worker_id="w1").run_once()
    assert seen == [run_id]


def test_an_exception_in_execute_releases_the_run_for_a_retry(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)

    def execute(_claim: Claim, _guard: ClaimGuard) -> None:
        raise RuntimeError("connector blew up")

    assert Worker(sessions, execute).run_once()
    row = get_run(sessions, run_id)
    assert (row.status, row.claim_token, row.claimed_by, row.attempt) == (
        "inProgress",
        None,
        None,
        1,
    )
    assert row.started_at is not None and row.lease_expires_at is not None
    assert row.lease_expires_at >= row.started_at + claims.backoff_ms(1)


def test_the_loop_survives_an_exception_and_executes_the_next_run(
    sessions: Sessions, tenant: Tenant
) -> None:
    first, second = add_runs(sessions, make_flow(sessions, tenant), 2)
    done: list[str] = []
    finish = finisher(sessions, done)

    def execute(claim: Claim, guard: ClaimGuard) -> None:
        if claim.run_id == first:
            raise RuntimeError("boom")
        finish(claim, guard)

    worker = Worker(sessions, execute, poll_seconds=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    eventually(lambda: done == [second])
    stop.set()
    worker.wake()
    thread.join(PATIENCE)
    assert not thread.is_alive()
    assert worker_row(sessions, worker.worker_id) is None  # deregistered on stop


def test_graceful_stop_finishes_the_run_in_hand_and_claims_no_more(
    sessions: Sessions, tenant: Tenant
) -> None:
    run_ids = add_runs(sessions, make_flow(sessions, tenant), 3)
    entered, release = threading.Event(), threading.Event()
    done: list[str] = []
    finish = finisher(sessions, done)

    def execute(claim: Claim, guard: ClaimGuard) -> None:
        entered.set()
        release.wait(PATIENCE)
        finish(claim, guard)

    worker = Worker(sessions, execute, poll_seconds=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    assert entered.wait(PATIENCE)
    stop.set()
    release.set()
    thread.join(PATIENCE)
    assert not thread.is_alive()
    assert done == run_ids[:1]
    assert [get_run(sessions, run_id).status for run_id in run_ids] == [
        "success",
        "scheduled",
        "scheduled",
    ]


def test_the_heartbeat_tells_the_runner_its_claim_was_taken_over(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    observed: list[bool] = []

    def execute(claim: Claim, guard: ClaimGuard) -> None:
        set_run(sessions, run_id, claim_token="someone-else")  # as a takeover would
        eventually(guard.lost)
        observed.append(worker.current_claim_lost())
        with pytest.raises(StaleClaimError):
            guard.raise_if_lost()
        with pytest.raises(StaleClaimError):
            claims.guarded_update(sessions, claim, output_records=1)

    worker = Worker(sessions, execute, heartbeat_seconds=0.01)
    worker.run_once()
    assert observed == [True]
    assert not worker.current_claim_lost()  # nothing in hand any more


def test_the_heartbeat_relays_a_cancel_request_and_extends_the_lease(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    stopped: list[bool] = []

    def execute(_claim: Claim, guard: ClaimGuard) -> None:
        first_lease = get_run(sessions, run_id).lease_expires_at
        eventually(lambda: get_run(sessions, run_id).lease_expires_at != first_lease)
        assert not guard.should_stop()
        set_run(sessions, run_id, cancel_requested=True)
        eventually(guard.cancel_requested)
        stopped.append(guard.should_stop() and not guard.lost())

    Worker(sessions, execute, heartbeat_seconds=0.01).run_once()
    assert stopped == [True]
