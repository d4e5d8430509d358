"""The run queue: atomic claims, leases and takeover, guarded writes, retries, cancels."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import Tenant
from sluice.engine import claims
from sluice.engine.claims import Claim, LeaseState, StaleClaimError
from sluice.store.db import make_engine, make_session_factory
from support.run_rows import Sessions, add_runs, get_run, make_flow, set_flow_state, set_run

NOW = 2_000_000_000_000  # epoch ms, far after every run's start_at
LEASE = 60_000


def _claim_all(sessions: Sessions, worker_id: str, barrier: threading.Barrier) -> list[str]:
    barrier.wait()
    taken = []
    while (claim := claims.claim_due_run(sessions, worker_id, lease_ms=LEASE)) is not None:
        taken.append(claim.run_id)
    return taken


def test_racing_claimers_never_claim_one_run_twice(sessions: Sessions, tenant: Tenant) -> None:
    run_ids = add_runs(sessions, make_flow(sessions, tenant), 50)
    barrier = threading.Barrier(4)
    results: dict[str, list[str]] = {}

    def claimer(name: str) -> None:
        results[name] = _claim_all(sessions, name, barrier)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [run_id for taken in results.values() for run_id in taken]
    assert sorted(claimed) == sorted(run_ids)  # each run exactly once
    assert all(get_run(sessions, run_id).attempt == 1 for run_id in run_ids)


def _claim_in_process(
    url: str,
    name: str,
    start: multiprocessing.synchronize.Event,
    out: multiprocessing.Queue[list[str]],
) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    start.wait()
    taken = []
    while (claim := claims.claim_due_run(sessions, name, lease_ms=LEASE)) is not None:
        taken.append(claim.run_id)
    out.put(taken)
    engine.dispose()


def test_racing_processes_never_claim_one_run_twice(
    sessions: sessionmaker[Session], tenant: Tenant, database_url: str
) -> None:
    run_ids = add_runs(sessions, make_flow(sessions, tenant), 50)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    out: multiprocessing.Queue[list[str]] = context.Queue()
    processes = [
        context.Process(target=_claim_in_process, args=(database_url, f"p{i}", start, out))
        for i in range(3)
    ]
    for process in processes:
        process.start()
    start.set()
    claimed = [run_id for _ in processes for run_id in out.get(timeout=120)]
    for process in processes:
        process.join()
    assert sorted(claimed) == sorted(run_ids)


def test_claim_takes_the_oldest_due_run_and_leaves_future_ones(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant)
    (later,) = add_runs(sessions, flow_id, 1, start_at=500)
    (older,) = add_runs(sessions, flow_id, 1, start_at=100)
    add_runs(sessions, flow_id, 1, start_at=NOW // 1000 + 1)  # not yet due
    first = claims.claim_due_run(sessions, "w", lease_ms=LEASE, now_ms=NOW)
    second = claims.claim_due_run(sessions, "w", lease_ms=LEASE, now_ms=NOW)
    assert first is not None and second is not None
    assert (first.run_id, second.run_id) == (older, later)
    assert claims.claim_due_run(sessions, "w", lease_ms=LEASE, now_ms=NOW) is None
    row = get_run(sessions, older)
    assert (row.status, row.claim_token, row.claimed_by) == ("inProgress", first.token, "w")
    assert (row.lease_expires_at, row.started_at, row.attempt) == (NOW + LEASE, NOW, 1)


def test_expired_lease_is_taken_over_and_the_stale_workers_writes_are_refused(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    old = claims.claim_due_run(sessions, "old", lease_ms=1000, now_ms=NOW)
    assert old is not None
    assert claims.claim_due_run(sessions, "new", lease_ms=LEASE, now_ms=NOW + 999) is None

    new = claims.claim_due_run(sessions, "new", lease_ms=LEASE, now_ms=NOW + 1001)
    assert new is not None
    assert (new.run_id, new.attempt, new.worker_id) == (run_id, 2, "new")
    assert new.token != old.token
    with pytest.raises(StaleClaimError):
        claims.guarded_update(sessions, old, output_records=99)
    with pytest.raises(StaleClaimError):
        claims.finish_run(
            sessions,
            old,
            status="success",
            completed_at_ms=NOW,
            doc={},
            output_records=99,
            committed_version=1,
        )
    with pytest.raises(StaleClaimError):
        claims.release_for_retry(sessions, old, retry_at_ms=NOW)
    assert claims.heartbeat(sessions, old, lease_ms=LEASE) is False

    row = get_run(sessions, run_id)
    assert (row.claimed_by, row.output_records, row.started_at) == ("new", 0, NOW)
    claims.finish_run(
        sessions,
        new,
        status="success",
        completed_at_ms=NOW + 5000,
        doc=row.doc,
        output_records=7,
        committed_version=3,
    )
    row = get_run(sessions, run_id)
    assert (row.status, row.output_records, row.committed_version) == ("success", 7, 3)
    assert (row.claim_token, row.lease_expires_at, row.completed_at) == (None, None, NOW + 5000)
    with pytest.raises(StaleClaimError):  # a finished run takes no more writes
        claims.guarded_update(sessions, new, output_records=8)


def test_guarded_update_writes_columns_and_doc_with_a_new_etag(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    claim = claims.claim_due_run(sessions, "w", lease_ms=LEASE)
    assert claim is not None
    before = get_run(sessions, run_id)
    doc = {**before.doc, "metrics": {"statusSummary": {"status": "inProgress"}}}
    claims.guarded_update(sessions, claim, doc=doc, output_records=5)
    after = get_run(sessions, run_id)
    assert after.doc == doc and after.output_records == 5
    assert after.etag != before.etag and after.updated_at > before.updated_at
    with pytest.raises(ValueError, match="claim_token"):
        claims.guarded_update(sessions, claim, claim_token=None)


def test_guarded_update_joins_the_callers_transaction(sessions: Sessions, tenant: Tenant) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    claim = claims.claim_due_run(sessions, "w", lease_ms=LEASE)
    assert claim is not None
    with sessions() as session, session.begin():
        claims.guarded_update(session, claim, output_records=1)
        session.rollback()
    assert get_run(sessions, run_id).output_records == 0


def test_released_run_is_claimed_again_only_after_its_backoff(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    first = claims.claim_due_run(sessions, "a", lease_ms=LEASE, now_ms=NOW)
    assert first is not None
    retry_at = NOW + claims.backoff_ms(first.attempt)
    claims.release_for_retry(sessions, first, retry_at_ms=retry_at)
    row = get_run(sessions, run_id)
    assert (row.status, row.claim_token, row.claimed_by) == ("inProgress", None, None)
    assert row.lease_expires_at == retry_at
    with pytest.raises(StaleClaimError):  # the releasing worker let go
        claims.guarded_update(sessions, first, output_records=1)

    assert claims.claim_due_run(sessions, "b", lease_ms=LEASE, now_ms=retry_at - 1) is None
    second = claims.claim_due_run(sessions, "b", lease_ms=LEASE, now_ms=retry_at + 1)
    assert second is not None and (second.run_id, second.attempt) == (run_id, 2)
    assert get_run(sessions, run_id).started_at == NOW


def test_backoff_grows_and_is_capped() -> None:
    delays = [claims.backoff_ms(attempt) for attempt in range(1, 10)]
    assert delays[:3] == [10_000, 30_000, 90_000]
    assert delays == sorted(delays)
    assert delays[-1] == claims.backoff_ms(50) <= 15 * 60_000


def test_claims_past_max_attempts_are_exhausted(sessions: Sessions, tenant: Tenant) -> None:
    add_runs(sessions, make_flow(sessions, tenant), 1)
    attempts = []
    for n in range(claims.MAX_ATTEMPTS + 1):
        claim = claims.claim_due_run(sessions, "w", lease_ms=10, now_ms=NOW + n * 100)
        assert claim is not None
        attempts.append((claim.attempt, claim.exhausted))
    assert attempts[-2:] == [(claims.MAX_ATTEMPTS, False), (claims.MAX_ATTEMPTS + 1, True)]


def test_runs_of_disabled_flows_are_not_claimed(sessions: Sessions, tenant: Tenant) -> None:
    flow_id = make_flow(sessions, tenant)
    (run_id,) = add_runs(sessions, flow_id, 1)
    set_flow_state(sessions, flow_id, "disabled")
    assert claims.claim_due_run(sessions, "w", lease_ms=LEASE) is None
    set_flow_state(sessions, flow_id, "enabled")
    claim = claims.claim_due_run(sessions, "w", lease_ms=LEASE)
    assert claim is not None and claim.run_id == run_id


def test_cancel_requested_runs_are_skipped_and_cancelled_when_abandoned(
    sessions: Sessions, tenant: Tenant
) -> None:
    (flagged,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    set_run(sessions, flagged, cancel_requested=True)
    assert claims.claim_due_run(sessions, "w", lease_ms=LEASE, now_ms=NOW) is None
    assert claims.cancel_abandoned(sessions, now_ms=NOW) == 1
    row = get_run(sessions, flagged)
    assert (row.status, row.completed_at) == ("cancelled", NOW)
    assert row.doc["metrics"]["statusSummary"]["status"] == "cancelled"


def test_a_held_run_sees_its_cancel_and_is_cancelled_once_its_lease_expires(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    claim = claims.claim_due_run(sessions, "w", lease_ms=1000, now_ms=NOW)
    assert claim is not None
    assert claims.renew_lease(sessions, claim, lease_ms=1000, now_ms=NOW) is LeaseState.HELD
    set_run(sessions, run_id, cancel_requested=True)
    assert claims.cancel_abandoned(sessions, now_ms=NOW + 500) == 0  # its worker still holds it
    assert claims.renew_lease(sessions, claim, lease_ms=1000, now_ms=NOW + 500) is (
        LeaseState.CANCEL_REQUESTED
    )
    assert claims.claim_due_run(sessions, "other", lease_ms=LEASE, now_ms=NOW + 5000) is None

    assert claims.cancel_abandoned(sessions, now_ms=NOW + 5000) == 1
    row = get_run(sessions, run_id)
    assert (row.status, row.claim_token) == ("cancelled", None)
    assert claims.heartbeat(sessions, claim, lease_ms=1000) is False
    assert claims.cancel_abandoned(sessions, now_ms=NOW + 6000) == 0


def test_heartbeat_extends_the_lease_without_changing_the_etag(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    claim = claims.claim_due_run(sessions, "w", lease_ms=1000, now_ms=NOW)
    assert claim is not None
    etag = get_run(sessions, run_id).etag
    assert claims.heartbeat(sessions, claim, lease_ms=1000, now_ms=NOW + 900) is True
    row = get_run(sessions, run_id)
    assert (row.lease_expires_at, row.etag) == (NOW + 1900, etag)
    # The renewed lease keeps the run from other workers past the first expiry.
    assert claims.claim_due_run(sessions, "other", lease_ms=LEASE, now_ms=NOW + 1500) is None


def test_finish_run_refuses_a_non_terminal_status(sessions: Sessions, tenant: Tenant) -> None:
    add_runs(sessions, make_flow(sessions, tenant), 1)
    claim = claims.claim_due_run(sessions, "w", lease_ms=LEASE)
    assert isinstance(claim, Claim)
    with pytest.raises(ValueError, match="inProgress"):
        claims.finish_run(
            sessions,
            claim,
            status="inProgress",
            completed_at_ms=NOW,
            doc={},
            output_records=0,
            committed_version=None,
        )
