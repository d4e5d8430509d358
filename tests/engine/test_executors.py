"""The local executor: N worker threads, woken early by notify, stopped gracefully."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sluice.domain.tenancy import Tenant
from sluice.engine import claims
from sluice.engine.claims import Claim, ClaimGuard
from sluice.engine.executors import Executor, LocalExecutor
from support.run_rows import Sessions, add_runs, finish_success, make_flow

PATIENCE = 30.0


def test_local_workers_execute_every_run_exactly_once(sessions: Sessions, tenant: Tenant) -> None:
    run_ids = add_runs(sessions, make_flow(sessions, tenant), 20)
    done: list[str] = []
    lock = threading.Lock()
    all_done = threading.Event()

    def execute(claim: Claim, _guard: ClaimGuard) -> None:
        finish_success(sessions, claim)
        with lock:
            done.append(claim.run_id)
            if len(done) == len(run_ids):
                all_done.set()

    executor: Executor = LocalExecutor(sessions, execute, workers=3, poll_seconds=0.01)
    executor.start()
    try:
        assert all_done.wait(PATIENCE)
    finally:
        assert executor.stop(timeout=PATIENCE)
    assert sorted(done) == sorted(run_ids)


def test_notify_wakes_an_idle_worker(
    sessions: Sessions, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_id = make_flow(sessions, tenant)
    executed = threading.Event()
    idle = threading.Semaphore(0)
    claim_due_run = claims.claim_due_run

    def counting_claim(*args: Any, **kwargs: Any) -> Claim | None:
        claim = claim_due_run(*args, **kwargs)
        if claim is None:
            idle.release()
        return claim

    monkeypatch.setattr(claims, "claim_due_run", counting_claim)

    def execute(_claim: Claim, _guard: ClaimGuard) -> None:
        executed.set()

    # Workers that would otherwise sleep for an hour between polls.
    executor = LocalExecutor(sessions, execute, workers=2, poll_seconds=3600)
    executor.start()
    try:
        for _ in range(2):  # both workers found nothing and went to sleep
            assert idle.acquire(timeout=PATIENCE)
        (run_id,) = add_runs(sessions, flow_id, 1)
        executor.notify(run_id)
        assert executed.wait(PATIENCE)
    finally:
        assert executor.stop(timeout=PATIENCE)
