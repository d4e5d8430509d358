"""The Celery executor's store side, on SQLite and PostgreSQL: `claim_run` takes the named
run only when it is claimable, and the sweep (`run_dispatch.overlooked`) picks exactly the
runs whose task may have been lost, each with its flow's queue."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.run_states import IN_PROGRESS, SUCCESS
from sluice.domain.tenancy import Tenant
from sluice.store import run_dispatch
from sluice.store import run_transitions as rules
from sluice.store.db import transaction, write_transaction
from sluice.store.models import Flow
from sluice.store.run_dispatch import ReadyRun
from support.run_rows import add_runs, get_run, make_flow, set_flow_state, set_run

Sessions = sessionmaker[Session]
LEASE = 60_000
NOW = 1_800_000_000_000  # epoch ms, after every test run's start_at and creation


def _claim_run(sessions: Sessions, run_id: str, worker: str, now: int = NOW) -> int | None:
    with write_transaction(sessions) as session:
        claimed = rules.claim_run(session, run_id, worker, f"token-{worker}", lease_ms=LEASE,
                                  now_ms=now)
    return None if claimed is None else claimed.attempt


def test_claim_run_takes_the_named_run_once_and_only_when_claimable(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow = make_flow(sessions, tenant)
    first, second = add_runs(sessions, flow, 2)
    assert _claim_run(sessions, second, "a") == 1  # the named one, not the oldest
    assert get_run(sessions, first).status == "scheduled"
    # The same task delivered twice: the second claim matches nothing while the lease holds.
    assert _claim_run(sessions, second, "b") is None
    assert get_run(sessions, second).claimed_by == "a"
    # Past the lease, the run is taken over (a worker died).
    assert _claim_run(sessions, second, "c", now=NOW + LEASE + 1) == 2
    # Not yet due, finished, cancel requested, flow disabled, unknown: nothing.
    set_run(sessions, first, start_at=NOW // 1000 + 60)
    assert _claim_run(sessions, first, "d") is None
    set_run(sessions, first, start_at=0, status=SUCCESS)
    assert _claim_run(sessions, first, "d") is None
    set_run(sessions, first, status="scheduled", cancel_requested=True)
    assert _claim_run(sessions, first, "d") is None
    set_run(sessions, first, cancel_requested=False)
    set_flow_state(sessions, flow, "disabled")
    assert _claim_run(sessions, first, "d") is None
    assert _claim_run(sessions, "no-such-run", "d") is None
    set_flow_state(sessions, flow, "enabled")
    assert _claim_run(sessions, first, "d") == 1


def _overlooked(sessions: Sessions, now: int = NOW, resend_after: int = 30_000,
                limit: int = run_dispatch.SWEEP_LIMIT) -> list[ReadyRun]:
    with sessions() as session:
        return run_dispatch.overlooked(session, now_ms=now, resend_before_ms=now - resend_after,
                                       limit=limit)


def test_the_sweep_picks_unclaimed_expired_and_retry_runs_with_their_queue(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow = make_flow(sessions, tenant)
    due, fresh, future, held, expired, retry, done = add_runs(sessions, flow, 7)
    old = NOW - 60_000
    for run_id in (due, future, held, expired, retry, done):
        set_run(sessions, run_id, created_at=old)
    set_run(sessions, fresh, created_at=NOW - 1_000)  # its task may still be on its way
    set_run(sessions, future, start_at=NOW // 1000 + 60)  # not due yet
    set_run(sessions, held, status=IN_PROGRESS, lease_expires_at=NOW + 60_000)
    set_run(sessions, expired, status=IN_PROGRESS, lease_expires_at=NOW - 1)  # worker died
    set_run(sessions, retry, status=IN_PROGRESS, claim_token=None, lease_expires_at=NOW - 5)
    set_run(sessions, done, status=SUCCESS)
    picked = _overlooked(sessions)
    assert sorted(r.run_id for r in picked) == sorted([due, expired, retry])
    assert {r.queue for r in picked} == {"sluice"}
    # Once the sweep sent them, they wait two intervals before being sent again, and past
    # that until half their wait (since they became claimable) has passed since (a
    # backoff): at +31 s, `due` has waited 91 s and was announced 31 s ago: not yet; the
    # others have waited about 31 s, announced at least 31 s ago.
    with write_transaction(sessions) as session:
        run_dispatch.mark_enqueued(session, [r.run_id for r in picked], now_ms=NOW)
    assert _overlooked(sessions) == []
    assert sorted(r.run_id for r in _overlooked(sessions, now=NOW + 31_000)) == sorted(
        [fresh, expired, retry])
    # At +61 s `held`'s lease has expired and `future` is due: both go at once.
    assert sorted(r.run_id for r in _overlooked(sessions, now=NOW + 61_000)) == sorted(
        [due, expired, retry, fresh, held, future])
    assert len(_overlooked(sessions, now=NOW + 61_000, limit=2)) == 2  # bounded


def test_a_run_announced_before_it_was_due_is_swept_once_due_and_queues_follow_the_flow(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow = make_flow(sessions, tenant)
    with transaction(sessions) as session:
        row = session.get_one(Flow, flow)
        row.doc = {**row.doc, "options": {"workerQueue": "big"}}
    (later,) = add_runs(sessions, flow, 1)
    due_at_s = NOW // 1000 + 60
    set_run(sessions, later, created_at=NOW - 1_000, start_at=due_at_s)
    assert _overlooked(sessions) == []  # not due
    # Due a moment ago: its task (sent at creation) found it not yet due, so it goes again
    # at once rather than two sweep intervals after its creation.
    assert _overlooked(sessions, now=due_at_s * 1000 + 500, resend_after=10**9) == [
        ReadyRun(later, "big")]
    with sessions() as session:
        assert run_dispatch.queues_of(session, [later, "unknown"]) == [ReadyRun(later, "big")]
    set_flow_state(sessions, flow, "disabled")
    assert _overlooked(sessions, now=due_at_s * 1000 + 500) == []
