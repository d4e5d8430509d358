"""A worker: claims due runs one at a time, executes them, and heartbeats while it does.

The runner is handed the claim and a `ClaimGuard`. The guard is how the runner learns,
without a query of its own, that its claim was lost (the lease ran out and another worker
took the run over) or that a cancel was requested: the heartbeat thread refreshes it every
lease/3. A guard object, rather than a method on the worker, keeps the runner independent of
who runs it (a local thread, or a Celery task: `run_ready`) and makes it trivial to fake in
tests.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import cast

from sqlalchemy import Table

from sluice.engine import claims
from sluice.engine.claims import Claim, ClaimGuard, LeaseState, Sessions, StaleClaimError
from sluice.store import clock
from sluice.store.models import Worker as WorkerRow

log = logging.getLogger(__name__)

Execute = Callable[[Claim, ClaimGuard], None]

_WORKERS = cast(Table, WorkerRow.__table__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def numbered_worker_ids(count: int, prefix: str | None = None) -> list[str]:
    """The ids of one process's `count` workers, `<prefix>:<n>`; the prefix by default names
    this host and process."""
    shared = prefix or default_worker_id()
    return [f"{shared}:{index}" for index in range(count)]


class Worker:
    """Claims and executes runs; `run_once` for one, `run_forever` until stopped.

    Shutdown is graceful: once `stop` is set no new run is claimed, and the run in hand is
    executed to its end. An exception from `execute` is logged and never ends the loop; the
    run is released for a retry after the backoff (unless it was finished or taken over).
    """

    def __init__(
        self,
        sessions: Sessions,
        execute: Execute,
        *,
        worker_id: str | None = None,
        lease_ms: int = 60_000,
        poll_seconds: float = 1.0,
        heartbeat_seconds: float | None = None,
        queues: tuple[str, ...] = (),
        executor: str = "local",
    ) -> None:
        self.sessions = sessions
        self.execute = execute
        self.worker_id = worker_id or default_worker_id()
        self.lease_ms = lease_ms
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds or lease_ms / 3000
        self.started_at = clock.now_ms()
        # What the `workers` row says about this worker (monitoring).
        self.queues = queues
        self.executor = executor
        self._wake = threading.Event()
        self._current: ClaimGuard | None = None

    def wake(self) -> None:
        """Poll now instead of at the end of the idle wait (a run was just made ready)."""
        self._wake.set()

    def current_claim_lost(self) -> bool:
        """True while executing a run whose claim another worker has since taken over."""
        guard = self._current
        return guard is not None and guard.lost()

    def run_once(self) -> bool:
        """Claim one due run and execute it; False when nothing was due."""
        claim = claims.claim_due_run(self.sessions, self.worker_id, lease_ms=self.lease_ms)
        if claim is None:
            return False
        self._execute_claimed(claim)
        return True

    def run_ready(self, run_id: str) -> bool:
        """Claim the run `run_id` and execute it; False (nothing done) when it is not
        claimable now: held by another worker, finished, cancelled or not yet due.

        What a Celery task does with "run X is ready": the database decides, so a message
        delivered twice or late is a no-op rather than a second execution.
        """
        claim = claims.claim_run(self.sessions, run_id, self.worker_id, lease_ms=self.lease_ms)
        if claim is None:
            log.debug("Run %s is not claimable now; nothing to do.", run_id)
            return False
        self._execute_claimed(claim)
        return True

    def _execute_claimed(self, claim: Claim) -> None:
        guard = ClaimGuard(claim)
        self._current = guard
        done = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(guard, done), name=f"heartbeat-{claim.run_id}"
        )
        self._record(current_run_id=claim.run_id)
        beat.start()
        try:
            self.execute(claim, guard)
        except Exception:
            log.exception("Run %s (attempt %d) raised.", claim.run_id, claim.attempt)
            self._release_after_crash(claim)
        finally:
            done.set()
            beat.join()
            self._current = None
            self._record(current_run_id=None)

    def record_idle(self) -> None:
        """Report that this worker is alive and has no run in hand (an idle heartbeat)."""
        if self._current is None:
            self._record(current_run_id=None)

    def deregister(self) -> None:
        """Remove this worker's row (a graceful shutdown)."""
        self._deregister()

    def run_forever(self, stop: threading.Event) -> None:
        self._record(current_run_id=None)
        last_beat = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    worked = self.run_once()
                except Exception:
                    # The database may be briefly unreachable; keep polling.
                    log.exception("Worker %s could not claim a run.", self.worker_id)
                    worked = False
                if worked or stop.is_set():
                    continue
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                if time.monotonic() - last_beat >= self.heartbeat_seconds:
                    self._record(current_run_id=None)
                    last_beat = time.monotonic()
        finally:
            self._deregister()

    def _heartbeat(self, guard: ClaimGuard, done: threading.Event) -> None:
        while not done.wait(self.heartbeat_seconds):
            try:
                state = claims.renew_lease(self.sessions, guard.claim, lease_ms=self.lease_ms)
            except Exception:
                # Keep trying: the lease may well outlive a short outage.
                log.exception("Heartbeat of run %s failed.", guard.claim.run_id)
                continue
            guard.record(state)
            if state is LeaseState.LOST:
                log.warning(
                    "Worker %s lost its claim on run %s.", self.worker_id, guard.claim.run_id
                )
                return
            self._record(current_run_id=guard.claim.run_id)

    def _release_after_crash(self, claim: Claim) -> None:
        retry_at = clock.now_ms() + claims.backoff_ms(claim.attempt)
        try:
            claims.release_for_retry(self.sessions, claim, retry_at_ms=retry_at)
        except StaleClaimError:
            pass  # Finished before the crash, or already taken over: nothing to give back.
        except Exception:
            log.exception("Could not release run %s; its lease will expire.", claim.run_id)

    def _record(self, *, current_run_id: str | None) -> None:
        """Upsert this worker's row in `workers` (monitoring); never fatal."""
        now = clock.now_ms()
        try:
            with claims.write_transaction(self.sessions) as session:
                statement = (
                    claims.dialect_insert(session)(_WORKERS)
                    .values(
                        id=self.worker_id,
                        hostname=socket.gethostname(),
                        pid=os.getpid(),
                        started_at=self.started_at,
                        heartbeat_at=now,
                        current_run_id=current_run_id,
                        queues=",".join(self.queues),
                        executor=self.executor,
                    )
                    .on_conflict_do_update(
                        index_elements=[_WORKERS.c.id],
                        # A restarted embedded server reuses its worker ids.
                        set_={
                            "heartbeat_at": now,
                            "current_run_id": current_run_id,
                            "pid": os.getpid(),
                            "started_at": self.started_at,
                            "queues": ",".join(self.queues),
                            "executor": self.executor,
                        },
                    )
                )
                session.execute(statement)
        except Exception:
            log.exception("Could not record worker %s.", self.worker_id)

    def _deregister(self) -> None:
        try:
            with claims.write_transaction(self.sessions) as session:
                session.execute(_WORKERS.delete().where(_WORKERS.c.id == self.worker_id))
        except Exception:
            log.exception("Could not remove worker %s.", self.worker_id)
