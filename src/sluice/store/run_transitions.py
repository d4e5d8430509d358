"""The only writer of run status: each allowed transition is one named rule below.

A run row is its own queue entry (DESIGN section 7), so these rules are also the queue's SQL.
Every rule is one guarded UPDATE whose WHERE clause re-checks, on the row it writes, the
state the transition starts from; a rule that matched no row did not happen, and the caller
learns it from the result instead of overwriting someone else's change. The rules take the
caller's session: events and flow columns written with them commit or roll back together.

    scheduled --claim | claim_run--> inProgress --finish--> success | failed | cancelled
    inProgress(lease expired) --claim | claim_run--> inProgress (taken over, attempt + 1)
    inProgress --release_for_retry--> inProgress (unclaimed until the retry time)
    scheduled --cancel_scheduled--> cancelled
    inProgress --request_cancel--> inProgress (cancel requested; its worker finishes it)
    scheduled | inProgress(unheld, cancel requested) --cancel_abandoned--> cancelled

Creating runs (`scheduled`) is `store/runs.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_, select, update
from sqlalchemy.orm import Session

from sluice.domain.errors import SluiceError
from sluice.domain.run_states import CANCELLED, IN_PROGRESS, MAX_ATTEMPTS, SCHEDULED, TERMINAL
from sluice.store import clock
from sluice.store.models import Flow, Run


class StaleClaimError(SluiceError):
    """The claim token no longer matches: the lease expired and another worker took the run
    over, or the run already finished. The stale worker must stop writing."""

    code, status, title = 1500, 409, "Stale run claim"


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one run; `token` must accompany every write to the run."""

    run_id: str
    token: str
    attempt: int
    worker_id: str

    @property
    def exhausted(self) -> bool:
        """True when earlier attempts used up the retries (a crash loop, or retries after
        transient errors): the runner must fail the run instead of executing it again."""
        return self.attempt > MAX_ATTEMPTS


@dataclass(frozen=True)
class Claimed:
    """What `claim` took: the run and which attempt this is (1 for the run's start)."""

    run_id: str
    attempt: int


def _touched(now: int) -> dict[str, Any]:
    """A resource change: a new etag, and an updatedAt that never goes backwards."""
    return {
        "etag": clock.new_etag(),
        "updated_at": case((Run.updated_at >= now, Run.updated_at + 1), else_=now),
    }


def _claimable(now_ms: int) -> ColumnElement[bool]:
    """Due, not yet claimed (or whose holder's lease ran out), on an enabled flow."""
    now_s = now_ms // 1000
    return and_(
        or_(
            and_(Run.status == SCHEDULED, Run.start_at <= now_s),
            and_(Run.status == IN_PROGRESS, Run.lease_expires_at < now_ms),
        ),
        Run.cancel_requested.is_(False),
        Run.flow_id.in_(select(Flow.id).where(Flow.state == "enabled")),
    )


def _abandoned(now_ms: int) -> ColumnElement[bool]:
    """Cancel requested, and no worker holds the run (never started, or its lease is gone)."""
    return and_(
        Run.cancel_requested.is_(True),
        or_(
            Run.status == SCHEDULED,
            and_(
                Run.status == IN_PROGRESS,
                or_(Run.lease_expires_at.is_(None), Run.lease_expires_at < now_ms),
            ),
        ),
    )


def claim(
    session: Session, worker_id: str, token: str, *, lease_ms: int, now_ms: int
) -> Claimed | None:
    """scheduled (or inProgress with an expired lease) -> inProgress, the oldest due run.

    Prevents two workers claiming the same run: one UPDATE picks the row in a subquery and
    re-checks the claimable condition on the row it writes. PostgreSQL: the subquery locks
    with `FOR UPDATE SKIP LOCKED`, so concurrent claimers take different rows without
    waiting. SQLite: the transaction starts with `BEGIN IMMEDIATE`, so claimers are
    serialized and each sees the previous one's claim.
    """
    pick = (
        select(Run.id)
        .where(_claimable(now_ms))
        .order_by(Run.start_at, Run.created_at, Run.id)
        .limit(1)
        # Without this, SQLAlchemy would correlate `runs` to the outer UPDATE's table.
        .correlate(None)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    return _claim_where(
        session, Run.id == pick.scalar_subquery(), worker_id, token, lease_ms, now_ms
    )


def claim_run(
    session: Session, run_id: str, worker_id: str, token: str, *, lease_ms: int, now_ms: int
) -> Claimed | None:
    """scheduled (due) or inProgress (lease expired) -> inProgress, for one named run; None
    when that run is not claimable now (held, finished, not yet due, cancelled, unknown).

    The Celery executor's claim: a task says "run X is ready", and this is what makes that
    message a hint rather than an order. Prevents a task delivered twice, late or after a
    broker restart from running a window twice: of two workers handed the same run, the
    UPDATE of the second re-checks the claimable condition on the row the first just wrote
    (PostgreSQL re-evaluates it after waiting for the first's row lock; SQLite serializes
    writers), matches nothing, and that worker does nothing.
    """
    return _claim_where(session, Run.id == run_id, worker_id, token, lease_ms, now_ms)


def _claim_where(
    session: Session,
    which: ColumnElement[bool],
    worker_id: str,
    token: str,
    lease_ms: int,
    now_ms: int,
) -> Claimed | None:
    """The claim itself: the run `which` selects, if it is still claimable, becomes this
    worker's for a lease and starts another attempt."""
    statement = (
        update(Run)
        .where(which, _claimable(now_ms))
        .values(
            status=IN_PROGRESS,
            claim_token=token,
            claimed_by=worker_id,
            lease_expires_at=now_ms + lease_ms,
            attempt=Run.attempt + 1,
            started_at=case((Run.started_at.is_(None), now_ms), else_=Run.started_at),
            **_touched(now_ms),
        )
        .returning(Run.id, Run.attempt)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    return None if row is None else Claimed(row.id, row.attempt)


def renew_lease(session: Session, held: Claim, *, lease_ms: int, now_ms: int) -> bool | None:
    """inProgress -> inProgress with a later lease; returns whether a cancel is requested,
    or None when the claim no longer holds.

    Prevents a worker whose run was taken over from extending the new holder's lease (the
    token is checked). Leaves `etag` alone: a lease is bookkeeping, not a change of the run,
    and bumping it every few seconds would make clients' If-Match writes fail for nothing.
    """
    statement = (
        update(Run)
        .where(Run.id == held.run_id, Run.claim_token == held.token, Run.status == IN_PROGRESS)
        .values(lease_expires_at=now_ms + lease_ms)
        .returning(Run.cancel_requested)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    return None if row is None else bool(row.cancel_requested)


def _guarded(session: Session, held: Claim, values: Mapping[str, Any]) -> None:
    now = clock.now_ms()
    statement = (
        update(Run)
        .where(Run.id == held.run_id, Run.claim_token == held.token)
        .values(**values, **_touched(now))
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).first() is None:
        raise StaleClaimError(
            f"Run {held.run_id} is no longer held by claim of worker {held.worker_id} "
            f"(attempt {held.attempt}); its write was refused."
        )


def record_progress(session: Session, held: Claim, **values: Any) -> None:
    """inProgress -> inProgress with new counters or document, while `held` holds the run.

    Prevents a stale worker (its run taken over) from overwriting the new holder's progress:
    zero rows matched means the token is gone, and StaleClaimError tells it to stop.
    """
    if not values:
        raise ValueError("record_progress needs at least one column to write.")
    forbidden = {"claim_token", "etag", "updated_at", "id", "status"} & values.keys()
    if forbidden:
        raise ValueError(f"record_progress does not write {sorted(forbidden)}.")
    _guarded(session, held, values)


def release_for_retry(
    session: Session, held: Claim, *, retry_at_ms: int, doc: dict[str, Any] | None = None
) -> None:
    """inProgress -> inProgress, unclaimed until `retry_at_ms` (after a transient error).

    Clearing the token prevents the releasing worker, should it carry on, from writing over
    whichever worker claims the retry: its later writes fail like any stale worker's.
    """
    values: dict[str, Any] = {
        "status": IN_PROGRESS,
        "claim_token": None,
        "claimed_by": None,
        "lease_expires_at": retry_at_ms,
    }
    if doc is not None:
        values["doc"] = doc
    _guarded(session, held, values)


def finish(
    session: Session,
    held: Claim,
    *,
    status: str,
    completed_at_ms: int,
    doc: dict[str, Any],
    output_records: int,
    committed_version: int | None,
    output_bytes: int = 0,
    reconciled: bool | None = None,
    expectation_failed: bool = False,
) -> None:
    """inProgress -> success | failed | cancelled, by the worker holding the run.

    Prevents a worker whose lease expired from finishing a run another worker now holds;
    clearing the token prevents any write after the end (a late progress update).
    """
    if status not in TERMINAL:
        raise ValueError(f"A run finishes as one of {sorted(TERMINAL)}, not {status!r}.")
    _guarded(
        session,
        held,
        {
            "status": status,
            "completed_at": completed_at_ms,
            "doc": doc,
            "output_records": output_records,
            "output_bytes": output_bytes,
            "committed_version": committed_version,
            "reconciled": reconciled,
            "expectation_failed": expectation_failed,
            "claim_token": None,
            "lease_expires_at": None,
        },
    )


def cancel_scheduled(session: Session, run_id: str, *, actor: str, now_ms: int) -> bool:
    """scheduled -> cancelled, at a client's request; False when the run is not scheduled.

    Prevents a cancel from overwriting a claim made between the client's read and this
    write: the status is re-checked on the row, so a run a worker just took is not marked
    cancelled under it (the caller then asks for a cooperative cancel instead).
    """
    return _client_write(
        session, run_id, SCHEDULED, actor, now_ms, status=CANCELLED, completed_at=now_ms
    )


def request_cancel(session: Session, run_id: str, *, actor: str, now_ms: int) -> bool:
    """inProgress -> inProgress with a cancel requested; its worker ends it without
    committing. False when the run is no longer in progress.

    Prevents flagging a run that finished between the client's read and this write (the
    flag on a finished run would claim a cancel that never happened).
    """
    return _client_write(session, run_id, IN_PROGRESS, actor, now_ms, cancel_requested=True)


def _client_write(
    session: Session, run_id: str, current: str, actor: str, now_ms: int, **values: Any
) -> bool:
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == current)
        .values(
            **values,
            updated_at=now_ms,
            etag=clock.new_etag(),
            updated_by=actor,
            updated_client=actor,
        )
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


def abandoned_cancels(session: Session, *, now_ms: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, etag, doc) of the runs `cancel_abandoned` would end now."""
    rows = session.execute(select(Run.id, Run.etag, Run.doc).where(_abandoned(now_ms)))
    return [(run_id, etag, doc) for run_id, etag, doc in rows]


def cancel_abandoned(
    session: Session, run_id: str, etag: str, doc: Mapping[str, Any], *, now_ms: int
) -> bool:
    """scheduled | inProgress (unheld, cancel requested) -> cancelled, by the scheduler.

    Covers a worker that died (or is in retry backoff) after the API flagged its run, and a
    flagged run that never started; a run whose lease is still live is left to its worker.
    Prevents overwriting a run claimed or finished since it was read: the write is a
    compare-and-set on the etag read, with the abandoned condition checked again.
    """
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.etag == etag, _abandoned(now_ms))
        .values(
            status=CANCELLED,
            completed_at=now_ms,
            claim_token=None,
            claimed_by=None,
            lease_expires_at=None,
            doc=_cancelled_doc(doc, now_ms),
            **_touched(now_ms),
        )
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).first() is not None


def expire_leases_of(session: Session, identity: str, *, now_ms: int) -> int:
    """inProgress (held by workers `identity:*`) -> claimable now; how many runs.

    Only for an identity no live process holds: the embedded server's own, after a restart.
    Prevents waiting a full lease for claims whose holder is known to be dead; the old claim
    tokens stay stale, since a new claim issues a new one, so a late write of the dead
    holder is still refused.
    """
    statement = (
        update(Run)
        .where(
            Run.status == IN_PROGRESS,
            Run.claimed_by.like(f"{identity}:%"),
            Run.lease_expires_at >= now_ms,
        )
        .values(lease_expires_at=now_ms - 1)
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    return len(session.execute(statement).all())


def _cancelled_doc(doc: Mapping[str, Any], now: int) -> dict[str, Any]:
    metrics = dict(doc.get("metrics") or {})
    status_summary = dict(metrics.get("statusSummary") or {})
    status_summary["status"] = CANCELLED
    duration = dict(metrics.get("durationSummary") or {})
    duration["completedAtUTC"] = now
    metrics["statusSummary"] = status_summary
    metrics["durationSummary"] = duration
    return {**doc, "metrics": metrics}
