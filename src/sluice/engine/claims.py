"""The run queue in the metadata database: claiming due runs, leases and guarded writes.

A run row is its own queue entry (DESIGN section 7). A worker takes it with one atomic
UPDATE that stamps a fresh claim token; every later write (progress, retry, finish) is an
UPDATE guarded by that token, so a worker whose lease expired and whose run was taken over
can no longer change it. Resource writes are Core statements that set a fresh `etag` and
`updated_at` themselves (the ORM's version counter only covers ORM flushes).
"""

from __future__ import annotations

import enum
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.errors import SluiceError
from sluice.domain.run_states import CANCELLED, IN_PROGRESS, SCHEDULED, TERMINAL
from sluice.store import clock
from sluice.store.db import dialect_insert as dialect_insert
from sluice.store.db import write_transaction as write_transaction
from sluice.store.models import Flow, Run
from sluice.webhooks import outbox
from sluice.webhooks.events import FLOW_RUN_STARTED

MAX_ATTEMPTS = 3
_BACKOFF_BASE_MS = 10_000
_BACKOFF_FACTOR = 3
_BACKOFF_CAP_MS = 15 * 60_000

Sessions = sessionmaker[Session]


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


class LeaseState(enum.Enum):
    """What a heartbeat learned about a claim."""

    HELD = "held"
    CANCEL_REQUESTED = "cancelRequested"
    LOST = "lost"


class ClaimGuard:
    """The runner's cheap view of its claim: flags set by the worker's heartbeat thread.

    The runner checks `should_stop()` between batches without a query of its own; the
    heartbeat (every lease/3) is what refreshes the flags. Writes stay guarded by the token
    regardless, so a stale flag can delay the stop but never lets a stale write through.
    """

    def __init__(self, claim: Claim) -> None:
        self.claim = claim
        self._lost = threading.Event()
        self._cancel = threading.Event()

    def record(self, state: LeaseState) -> None:
        if state is LeaseState.LOST:
            self._lost.set()
        elif state is LeaseState.CANCEL_REQUESTED:
            self._cancel.set()

    def lost(self) -> bool:
        """The run was taken over (or finished elsewhere); further writes will be refused."""
        return self._lost.is_set()

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def should_stop(self) -> bool:
        return self.lost() or self.cancel_requested()

    def raise_if_lost(self) -> None:
        if self.lost():
            raise StaleClaimError(
                f"Run {self.claim.run_id} is no longer held by worker {self.claim.worker_id}."
            )


def backoff_ms(attempt: int) -> int:
    """Delay before retrying after `attempt` failed: 10 s, 30 s, 90 s, ... capped at 15 min."""
    exponent = max(attempt, 1) - 1
    return int(min(_BACKOFF_BASE_MS * _BACKOFF_FACTOR**exponent, _BACKOFF_CAP_MS))


@contextmanager
def _in_transaction(target: Session | Sessions) -> Iterator[Session]:
    """Join the caller's session (its transaction), or run in a transaction of our own."""
    if isinstance(target, Session):
        yield target
    else:
        with write_transaction(target) as session:
            yield session


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


def claim_due_run(
    sessions: Sessions, worker_id: str, *, lease_ms: int, now_ms: int | None = None
) -> Claim | None:
    """Take the oldest due run, or None. Prevents two workers claiming the same run.

    One UPDATE picks the row in a subquery and re-checks the claimable condition on the row
    it writes. PostgreSQL: the subquery locks with `FOR UPDATE SKIP LOCKED`, so concurrent
    claimers take different rows without waiting. SQLite: the transaction starts with
    `BEGIN IMMEDIATE`, so claimers are serialized and each sees the previous one's claim.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    token = str(uuid.uuid4())
    with write_transaction(sessions) as session:
        pick = (
            select(Run.id)
            .where(_claimable(now))
            .order_by(Run.start_at, Run.created_at, Run.id)
            .limit(1)
            # Without this, SQLAlchemy would correlate `runs` to the outer UPDATE's table.
            .correlate(None)
        )
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        statement = (
            update(Run)
            .where(Run.id == pick.scalar_subquery(), _claimable(now))
            .values(
                status=IN_PROGRESS,
                claim_token=token,
                claimed_by=worker_id,
                lease_expires_at=now + lease_ms,
                attempt=Run.attempt + 1,
                started_at=case((Run.started_at.is_(None), now), else_=Run.started_at),
                **_touched(now),
            )
            .returning(Run.id, Run.attempt)
            .execution_options(synchronize_session=False)
        )
        row = session.execute(statement).first()
        if row is not None and row.attempt == 1:
            # The first claim is the run's start: its event commits or rolls back with it.
            outbox.record_run_event(session, row.id, FLOW_RUN_STARTED, now_ms=now)
    if row is None:
        return None
    return Claim(run_id=row.id, token=token, attempt=row.attempt, worker_id=worker_id)


def release_claims_of(sessions: Sessions, identity: str, *, now_ms: int | None = None) -> int:
    """Make the in-progress runs of workers `identity:*` claimable now; how many.

    Only for an identity no live process holds: the embedded server's own, after a restart
    (engine/embedded_recovery). Prevents waiting a full lease for claims whose holder is
    known to be dead. The old claim tokens stay stale: a new claim issues a new one.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    with write_transaction(sessions) as session:
        result = session.execute(
            update(Run)
            .where(
                Run.status == IN_PROGRESS,
                Run.claimed_by.like(f"{identity}:%"),
                Run.lease_expires_at >= now,
            )
            .values(lease_expires_at=now - 1)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0)


def renew_lease(
    sessions: Sessions, claim: Claim, *, lease_ms: int, now_ms: int | None = None
) -> LeaseState:
    """Extend the lease if the claim still holds, and report a pending cancel request.

    Deliberately leaves `etag` alone: a lease is bookkeeping, not a change of the run, and
    bumping the etag every few seconds would make clients' If-Match writes fail for nothing.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    with write_transaction(sessions) as session:
        statement = (
            update(Run)
            .where(
                Run.id == claim.run_id,
                Run.claim_token == claim.token,
                Run.status == IN_PROGRESS,
            )
            .values(lease_expires_at=now + lease_ms)
            .returning(Run.cancel_requested)
            .execution_options(synchronize_session=False)
        )
        row = session.execute(statement).first()
    if row is None:
        return LeaseState.LOST
    return LeaseState.CANCEL_REQUESTED if row.cancel_requested else LeaseState.HELD


def heartbeat(
    sessions: Sessions, claim: Claim, *, lease_ms: int, now_ms: int | None = None
) -> bool:
    """Extend the lease; False when the claim is stale (the run was taken over or ended)."""
    return renew_lease(sessions, claim, lease_ms=lease_ms, now_ms=now_ms) is not LeaseState.LOST


def guarded_update(target: Session | Sessions, claim: Claim, **values: Any) -> None:
    """Write run columns (including the whole `doc`) only while `claim` holds the run.

    Refuses the write of a worker whose run was taken over: zero rows matched means the
    token is gone, and StaleClaimError tells that worker to stop. Pass a Session to write
    inside the caller's transaction (on SQLite, open it with `write_transaction` if it reads
    before writing), or the session factory for a transaction of its own.
    """
    if not values:
        raise ValueError("guarded_update needs at least one column to write.")
    forbidden = {"claim_token", "etag", "updated_at", "id"} & values.keys()
    if forbidden:
        raise ValueError(f"guarded_update does not write {sorted(forbidden)}.")
    _guarded(target, claim, values)


def _guarded(target: Session | Sessions, claim: Claim, values: Mapping[str, Any]) -> None:
    now = clock.now_ms()
    statement = (
        update(Run)
        .where(Run.id == claim.run_id, Run.claim_token == claim.token)
        .values(**values, **_touched(now))
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    )
    with _in_transaction(target) as session:
        written = session.execute(statement).first()
    if written is None:
        raise StaleClaimError(
            f"Run {claim.run_id} is no longer held by claim of worker {claim.worker_id} "
            f"(attempt {claim.attempt}); its write was refused."
        )


def release_for_retry(
    target: Session | Sessions,
    claim: Claim,
    *,
    retry_at_ms: int,
    doc: dict[str, Any] | None = None,
) -> None:
    """Give the run back after a transient error; any worker may claim it at `retry_at_ms`.

    The run stays `inProgress` (a retry is part of the same run); clearing the token makes
    the releasing worker's later writes fail like any stale worker's.
    """
    values: dict[str, Any] = {
        "status": IN_PROGRESS,
        "claim_token": None,
        "claimed_by": None,
        "lease_expires_at": retry_at_ms,
    }
    if doc is not None:
        values["doc"] = doc
    _guarded(target, claim, values)


def finish_run(
    target: Session | Sessions,
    claim: Claim,
    *,
    status: str,
    completed_at_ms: int,
    doc: dict[str, Any],
    output_records: int,
    committed_version: int | None,
    output_bytes: int = 0,
) -> None:
    """Record the run's end; the token is cleared so nothing can write to it afterwards."""
    if status not in TERMINAL:
        raise ValueError(f"A run finishes as one of {sorted(TERMINAL)}, not {status!r}.")
    _guarded(
        target,
        claim,
        {
            "status": status,
            "completed_at": completed_at_ms,
            "doc": doc,
            "output_records": output_records,
            "output_bytes": output_bytes,
            "committed_version": committed_version,
            "claim_token": None,
            "lease_expires_at": None,
        },
    )


def cancel_abandoned(sessions: Sessions, *, now_ms: int | None = None) -> int:
    """Cancel runs whose cancel was requested and that no worker holds any more.

    Covers a worker that died (or is in retry backoff) after the API flagged its run, and a
    flagged run that never started. A run whose lease is still live is left to its worker,
    which sees the request through its heartbeat. Each row is written with a compare-and-set
    on its etag, so a run claimed or finished meanwhile is not overwritten.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    abandoned = and_(
        Run.cancel_requested.is_(True),
        or_(
            Run.status == SCHEDULED,
            and_(
                Run.status == IN_PROGRESS,
                or_(Run.lease_expires_at.is_(None), Run.lease_expires_at < now),
            ),
        ),
    )
    with sessions() as session:
        candidates = session.execute(select(Run.id, Run.etag, Run.doc).where(abandoned)).all()
    cancelled = 0
    for run_id, etag, doc in candidates:
        with write_transaction(sessions) as session:
            statement = (
                update(Run)
                .where(Run.id == run_id, Run.etag == etag, abandoned)
                .values(
                    status=CANCELLED,
                    completed_at=now,
                    claim_token=None,
                    claimed_by=None,
                    lease_expires_at=None,
                    doc=_cancelled_doc(doc, now),
                    **_touched(now),
                )
                .returning(Run.id)
                .execution_options(synchronize_session=False)
            )
            if session.execute(statement).first() is not None:
                cancelled += 1
    return cancelled


def _cancelled_doc(doc: Mapping[str, Any], now: int) -> dict[str, Any]:
    metrics = dict(doc.get("metrics") or {})
    status_summary = dict(metrics.get("statusSummary") or {})
    status_summary["status"] = CANCELLED
    duration = dict(metrics.get("durationSummary") or {})
    duration["completedAtUTC"] = now
    metrics["statusSummary"] = status_summary
    metrics["durationSummary"] = duration
    return {**doc, "metrics": metrics}
