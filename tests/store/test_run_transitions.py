"""Each rule of `store/run_transitions.py`, on SQLite and PostgreSQL: it moves the run it
may move, and refuses the write of the race its docstring names."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.run_states import CANCELLED, IN_PROGRESS, SCHEDULED, SUCCESS
from sluice.domain.tenancy import Tenant
from sluice.store import run_transitions as rules
from sluice.store.db import write_transaction
from sluice.store.run_transitions import Claim, StaleClaimError
from support.run_rows import add_runs, get_run, make_flow, set_flow_state, set_run

Sessions = sessionmaker[Session]
LEASE = 60_000
NOW = 1_800_000_000_000  # epoch ms, after every test run's start_at


def _claim(sessions: Sessions, worker: str, *, now: int = NOW) -> Claim | None:
    with write_transaction(sessions) as session:
        claimed = rules.claim(session, worker, f"token-{worker}", lease_ms=LEASE, now_ms=now)
    if claimed is None:
        return None
    return Claim(claimed.run_id, f"token-{worker}", claimed.attempt, worker)


def _one_run(sessions: Sessions, tenant: Tenant) -> str:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    return run_id


def test_claim_takes_a_due_run_once(sessions: Sessions, tenant: Tenant) -> None:
    run_id = _one_run(sessions, tenant)
    first = _claim(sessions, "a")
    assert first is not None and (first.run_id, first.attempt) == (run_id, 1)
    # The race: a second worker asking for the same run gets nothing while the lease holds.
    assert _claim(sessions, "b") is None
    run = get_run(sessions, run_id)
    assert (run.status, run.claim_token, run.claimed_by) == (IN_PROGRESS, "token-a", "a")


def test_claim_takes_over_an_expired_lease_and_skips_disabled_flows(
    sessions: Sessions, tenant: Tenant
) -> None:
    run_id = _one_run(sessions, tenant)
    assert _claim(sessions, "a") is not None
    taken = _claim(sessions, "b", now=NOW + LEASE + 1)
    assert taken is not None and (taken.run_id, taken.attempt) == (run_id, 2)
    flow = make_flow(sessions, tenant)
    add_runs(sessions, flow, 1)
    set_flow_state(sessions, flow, "disabled")
    assert _claim(sessions, "c", now=NOW + LEASE + 2) is None  # b holds the first


def test_renew_lease_refuses_a_taken_over_claim(sessions: Sessions, tenant: Tenant) -> None:
    _one_run(sessions, tenant)
    old = _claim(sessions, "a")
    assert old is not None
    new = _claim(sessions, "b", now=NOW + LEASE + 1)
    assert new is not None
    with write_transaction(sessions) as session:
        assert rules.renew_lease(session, old, lease_ms=LEASE, now_ms=NOW + LEASE + 2) is None
        assert rules.renew_lease(session, new, lease_ms=LEASE, now_ms=NOW + LEASE + 2) is False
    assert get_run(sessions, new.run_id).lease_expires_at == NOW + 2 * LEASE + 2


def test_record_progress_refuses_a_stale_worker(sessions: Sessions, tenant: Tenant) -> None:
    run_id = _one_run(sessions, tenant)
    old = _claim(sessions, "a")
    assert old is not None
    assert _claim(sessions, "b", now=NOW + LEASE + 1) is not None
    with pytest.raises(StaleClaimError), write_transaction(sessions) as session:
        rules.record_progress(session, old, output_records=99)
    assert get_run(sessions, run_id).output_records == 0
    with pytest.raises(ValueError, match="status"), write_transaction(sessions) as session:
        rules.record_progress(session, old, status=SUCCESS)


def test_release_for_retry_frees_the_run_and_disowns_the_releaser(
    sessions: Sessions, tenant: Tenant
) -> None:
    run_id = _one_run(sessions, tenant)
    held = _claim(sessions, "a")
    assert held is not None
    with write_transaction(sessions) as session:
        rules.release_for_retry(session, held, retry_at_ms=NOW + 10)
    run = get_run(sessions, run_id)
    assert (run.status, run.claim_token, run.lease_expires_at) == (IN_PROGRESS, None, NOW + 10)
    assert _claim(sessions, "b", now=NOW + 5) is None  # not before the retry time
    with pytest.raises(StaleClaimError), write_transaction(sessions) as session:
        rules.record_progress(session, held, output_records=1)
    retry = _claim(sessions, "b", now=NOW + 11)
    assert retry is not None and retry.attempt == 2


def test_finish_ends_the_run_and_refuses_the_expired_holder(
    sessions: Sessions, tenant: Tenant
) -> None:
    run_id = _one_run(sessions, tenant)
    old = _claim(sessions, "a")
    assert old is not None
    new = _claim(sessions, "b", now=NOW + LEASE + 1)
    assert new is not None
    end = {"status": SUCCESS, "completed_at_ms": NOW + LEASE + 5, "doc": {}, "output_records": 3}
    with pytest.raises(StaleClaimError), write_transaction(sessions) as session:
        rules.finish(session, old, committed_version=None, **end)  # type: ignore[arg-type]
    with write_transaction(sessions) as session:
        rules.finish(session, new, committed_version=4, **end)  # type: ignore[arg-type]
    run = get_run(sessions, run_id)
    assert (run.status, run.output_records, run.committed_version) == (SUCCESS, 3, 4)
    assert run.claim_token is None
    with pytest.raises(StaleClaimError), write_transaction(sessions) as session:
        rules.record_progress(session, new, output_records=1)  # nothing after the end
    with (
        pytest.raises(ValueError, match="finishes as one of"),
        write_transaction(sessions) as session,
    ):
        rules.finish(session, new, committed_version=None, **{**end, "status": SCHEDULED})  # type: ignore[arg-type]


def test_cancel_scheduled_only_cancels_a_run_nobody_claimed(
    sessions: Sessions, tenant: Tenant
) -> None:
    waiting, claimed = add_runs(sessions, make_flow(sessions, tenant), 2)
    set_run(sessions, waiting, start_at=NOW)  # not due: the claim below takes the other one
    assert _claim(sessions, "a") is not None
    with write_transaction(sessions) as session:
        assert rules.cancel_scheduled(session, waiting, actor="client", now_ms=NOW)
        assert not rules.cancel_scheduled(session, claimed, actor="client", now_ms=NOW)
    cancelled = get_run(sessions, waiting)
    assert (cancelled.status, cancelled.completed_at, cancelled.updated_by) == (
        CANCELLED,
        NOW,
        "client",
    )
    assert get_run(sessions, claimed).status == IN_PROGRESS


def test_request_cancel_flags_only_a_run_in_progress(sessions: Sessions, tenant: Tenant) -> None:
    run_id = _one_run(sessions, tenant)
    with write_transaction(sessions) as session:
        assert not rules.request_cancel(session, run_id, actor="client", now_ms=NOW)
    held = _claim(sessions, "a")
    assert held is not None
    with write_transaction(sessions) as session:
        assert rules.request_cancel(session, run_id, actor="client", now_ms=NOW)
        assert rules.renew_lease(session, held, lease_ms=LEASE, now_ms=NOW + 1) is True
    assert get_run(sessions, run_id).cancel_requested is True


def test_cancel_abandoned_ends_unheld_runs_but_not_changed_ones(
    sessions: Sessions, tenant: Tenant
) -> None:
    live, dead = add_runs(sessions, make_flow(sessions, tenant), 2)
    for run_id in (live, dead):
        set_run(sessions, run_id, status=IN_PROGRESS, cancel_requested=True)
    set_run(sessions, live, lease_expires_at=NOW + LEASE)  # its worker still holds it
    set_run(sessions, dead, lease_expires_at=NOW - 1)
    with write_transaction(sessions) as session:
        candidates = rules.abandoned_cancels(session, now_ms=NOW)
    assert [run_id for run_id, _etag, _doc in candidates] == [dead]
    ((run_id, etag, doc),) = candidates
    # The race: the run changed after it was read (a stale etag); the write must not land.
    with write_transaction(sessions) as session:
        assert not rules.cancel_abandoned(session, run_id, "stale", doc, now_ms=NOW)
        assert rules.cancel_abandoned(session, run_id, etag, doc, now_ms=NOW)
    run = get_run(sessions, dead)
    assert (run.status, run.completed_at) == (CANCELLED, NOW)
    assert run.doc["metrics"]["statusSummary"]["status"] == CANCELLED
    assert get_run(sessions, live).status == IN_PROGRESS
