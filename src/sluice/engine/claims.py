"""A worker's side of the run queue: claiming, heartbeats, retries and the end of a run.

The status writes themselves are the named rules of `store/run_transitions.py`; this module
gives each one its transaction, its run event and the worker's view of its claim.
"""

from __future__ import annotations

import enum
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.run_states import MAX_ATTEMPTS as MAX_ATTEMPTS
from sluice.store import clock, run_transitions
from sluice.store.db import dialect_insert as dialect_insert
from sluice.store.db import write_transaction as write_transaction
from sluice.store.run_transitions import Claim as Claim
from sluice.store.run_transitions import StaleClaimError as StaleClaimError
from sluice.webhooks import outbox
from sluice.webhooks.events import FLOW_RUN_STARTED

_BACKOFF_BASE_MS = 10_000
_BACKOFF_FACTOR = 3
_BACKOFF_CAP_MS = 15 * 60_000

Sessions = sessionmaker[Session]


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


def claim_due_run(
    sessions: Sessions, worker_id: str, *, lease_ms: int, now_ms: int | None = None
) -> Claim | None:
    """Take the oldest due run, or None (`run_transitions.claim`); the first claim of a run
    records its start event in the same transaction."""
    now = clock.now_ms() if now_ms is None else now_ms
    token = str(uuid.uuid4())
    with write_transaction(sessions) as session:
        claimed = run_transitions.claim(session, worker_id, token, lease_ms=lease_ms, now_ms=now)
        if claimed is not None and claimed.attempt == 1:
            outbox.record_run_event(session, claimed.run_id, FLOW_RUN_STARTED, now_ms=now)
    if claimed is None:
        return None
    return Claim(run_id=claimed.run_id, token=token, attempt=claimed.attempt, worker_id=worker_id)


def claim_run(
    sessions: Sessions, run_id: str, worker_id: str, *, lease_ms: int, now_ms: int | None = None
) -> Claim | None:
    """Take the run `run_id` if it is claimable now, or None (`run_transitions.claim_run`);
    its first claim records the start event in the same transaction."""
    now = clock.now_ms() if now_ms is None else now_ms
    token = str(uuid.uuid4())
    with write_transaction(sessions) as session:
        claimed = run_transitions.claim_run(
            session, run_id, worker_id, token, lease_ms=lease_ms, now_ms=now
        )
        if claimed is not None and claimed.attempt == 1:
            outbox.record_run_event(session, claimed.run_id, FLOW_RUN_STARTED, now_ms=now)
    if claimed is None:
        return None
    return Claim(run_id=claimed.run_id, token=token, attempt=claimed.attempt, worker_id=worker_id)


def release_claims_of(sessions: Sessions, identity: str, *, now_ms: int | None = None) -> int:
    """Make the in-progress runs of workers `identity:*` claimable now; how many.

    Only for an identity no live process holds: the embedded server's own, after a restart
    (engine/embedded_recovery). Prevents waiting a full lease for claims whose holder is
    known to be dead. The old claim tokens stay stale: a new claim issues a new one.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    with write_transaction(sessions) as session:
        return run_transitions.expire_leases_of(session, identity, now_ms=now)


def renew_lease(
    sessions: Sessions, claim: Claim, *, lease_ms: int, now_ms: int | None = None
) -> LeaseState:
    """Extend the lease if the claim still holds, and report a pending cancel request."""
    now = clock.now_ms() if now_ms is None else now_ms
    with write_transaction(sessions) as session:
        cancel = run_transitions.renew_lease(session, claim, lease_ms=lease_ms, now_ms=now)
    if cancel is None:
        return LeaseState.LOST
    return LeaseState.CANCEL_REQUESTED if cancel else LeaseState.HELD


def heartbeat(
    sessions: Sessions, claim: Claim, *, lease_ms: int, now_ms: int | None = None
) -> bool:
    """Extend the lease; False when the claim is stale (the run was taken over or ended)."""
    return renew_lease(sessions, claim, lease_ms=lease_ms, now_ms=now_ms) is not LeaseState.LOST


def guarded_update(target: Session | Sessions, claim: Claim, **values: Any) -> None:
    """Write run columns (including the whole `doc`) only while `claim` holds the run
    (`run_transitions.record_progress`). Pass a Session to write inside the caller's
    transaction (on SQLite, open it with `write_transaction` if it reads before writing), or
    the session factory for a transaction of its own."""
    with _in_transaction(target) as session:
        run_transitions.record_progress(session, claim, **values)


def release_for_retry(
    target: Session | Sessions,
    claim: Claim,
    *,
    retry_at_ms: int,
    doc: dict[str, Any] | None = None,
) -> None:
    """Give the run back after a transient error; any worker may claim it at `retry_at_ms`."""
    with _in_transaction(target) as session:
        run_transitions.release_for_retry(session, claim, retry_at_ms=retry_at_ms, doc=doc)


class RunEnd(TypedDict):
    """How a run ended: the keywords of `run_transitions.finish`."""

    status: str
    completed_at_ms: int
    doc: dict[str, Any]
    output_records: int
    committed_version: int | None
    output_bytes: NotRequired[int]


def finish_run(target: Session | Sessions, claim: Claim, **end: Unpack[RunEnd]) -> None:
    """Record the run's end; the token is cleared so nothing can write to it afterwards."""
    with _in_transaction(target) as session:
        run_transitions.finish(session, claim, **end)


def cancel_abandoned(sessions: Sessions, *, now_ms: int | None = None) -> int:
    """Cancel runs whose cancel was requested and that no worker holds any more; one short
    transaction per run, so a pass never holds many rows."""
    now = clock.now_ms() if now_ms is None else now_ms
    with sessions() as session:
        candidates = run_transitions.abandoned_cancels(session, now_ms=now)
    cancelled = 0
    for run_id, etag, doc in candidates:
        with write_transaction(sessions) as session:
            if run_transitions.cancel_abandoned(session, run_id, etag, doc, now_ms=now):
                cancelled += 1
    return cancelled
