"""Executors: what keeps workers running, behind one small protocol.

The database stays the source of truth (DESIGN section 1): `notify` is only a hint that a run
is ready, and whoever acts on it still claims the run in the database first, so a hint
delivered twice, late or never cannot make a window run twice or be lost (the workers poll).

The Celery executor (engine/celery_executor) fits the same protocol without touching the run
logic: its `notify` sends a task, and the task, in a `sluice worker` process, calls
`Worker.run_ready(run_id)`, which claims that run in the database first; its `start` /
`stop` have nothing to do in the API process. It is also a `RunPublisher`: the scheduler
announces the runs it creates and sweeps up the ones whose task was lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

from sluice.engine.claims import Sessions
from sluice.engine.worker import Execute, Worker, numbered_worker_ids
from sluice.store.run_dispatch import ReadyRun


class Executor(Protocol):
    def start(self) -> None:
        """Begin taking runs."""

    def stop(self, timeout: float | None = None) -> bool:
        """Stop taking runs and let runs in hand finish; True when all finished in time."""

    def notify(self, run_id: str) -> None:
        """Hint that `run_id` is ready (created, due, or released for retry)."""


class RunPublisher(Protocol):
    """Sends "run X is ready" messages to a broker (the scheduler's side of the Celery
    executor)."""

    def publish(self, runs: Sequence[ReadyRun]) -> list[str]:
        """Send the runs' messages; the ids of those sent (a broker that is down: fewer)."""


class LocalExecutor:
    """N workers in threads of this process (the embedded mode's executor)."""

    def __init__(
        self,
        sessions: Sessions,
        execute: Execute,
        *,
        workers: int,
        lease_ms: int = 60_000,
        poll_seconds: float = 1.0,
        heartbeat_seconds: float | None = None,
        worker_prefix: str | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("A local executor needs at least one worker.")
        # The embedded server passes its data dir's identity, so a restart knows its claims.
        self.workers = [
            Worker(
                sessions,
                execute,
                worker_id=worker_id,
                lease_ms=lease_ms,
                poll_seconds=poll_seconds,
                heartbeat_seconds=heartbeat_seconds,
            )
            for worker_id in numbered_worker_ids(workers, worker_prefix)
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("This executor was already started.")
        for worker in self.workers:
            thread = threading.Thread(
                target=worker.run_forever, args=(self._stop,), name=f"worker-{worker.worker_id}"
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> bool:
        self._stop.set()
        for worker in self.workers:
            worker.wake()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            thread.join(remaining)
        return not any(thread.is_alive() for thread in self._threads)

    def notify(self, run_id: str) -> None:
        # Every idle worker polls; exactly one of them wins the claim.
        for worker in self.workers:
            worker.wake()
