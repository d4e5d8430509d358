"""The engine's long-running parts, started and stopped together: local workers (or, with the
Celery executor, none: runs are sent to `sluice worker` processes), the scheduler (each
scheduler stands by unless it holds the leadership lease) and the webhook dispatcher."""

from __future__ import annotations

import logging
import threading

from sluice.engine.celery_executor import CeleryExecutor
from sluice.engine.claims import ClaimGuard, Sessions
from sluice.engine.engine_context import EngineContext
from sluice.engine.executors import LocalExecutor
from sluice.engine.scheduler import Scheduler
from sluice.engine.warmup import load_in_background
from sluice.store.flow_ticks import has_enabled_flow
from sluice.webhooks.dispatcher import WebhookDispatcher

log = logging.getLogger("sluice.engine")


def execute_run(ctx: EngineContext, guard: ClaimGuard) -> None:
    """Run a claimed run (sluice.engine.runner). The runner, and with it pyarrow and
    deltalake, loads with the first run unless `engine.warmup` has loaded it ahead: an idle
    process never needs them."""
    from sluice.engine.runner import execute_run as run_claimed

    run_claimed(ctx, guard)


def load_engine_ahead(sessions: Sessions) -> None:
    """Runs are coming if the store holds an enabled flow: then load the engine now, in the
    background, not in the first run's time (a server on an empty store stays light)."""

    def holds_enabled_flow() -> bool:
        with sessions() as session:
            return has_enabled_flow(session)

    load_in_background(holds_enabled_flow)


class EngineSupervisor:
    def __init__(
        self,
        ctx: EngineContext,
        *,
        workers: int,
        scheduler: bool,
        scheduler_interval_seconds: float = 5.0,
        dispatcher: WebhookDispatcher | None = None,
        worker_prefix: str | None = None,
        celery: CeleryExecutor | None = None,
        sweep_interval_seconds: float = 15.0,
    ) -> None:
        # With the Celery executor this process runs no workers: it sends tasks.
        self.celery = celery
        self._sessions = ctx.sessions
        self.executor = (
            LocalExecutor(
                ctx.sessions,
                lambda _claim, guard: execute_run(ctx, guard),
                workers=workers,
                lease_ms=ctx.lease_ms,
                worker_prefix=worker_prefix,
            )
            if workers > 0 and celery is None
            else None
        )
        self.scheduler = (
            Scheduler(
                ctx.sessions,
                interval_seconds=scheduler_interval_seconds,
                publisher=celery,
                sweep_interval_seconds=sweep_interval_seconds,
            )
            if scheduler
            else None
        )
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._scheduler_thread: threading.Thread | None = None

    def start(self) -> None:
        if self.executor is not None:
            self.executor.start()
            load_engine_ahead(self._sessions)
        if self.scheduler is not None:
            self._scheduler_thread = threading.Thread(
                target=self.scheduler.run_forever,
                args=(self._stop,),
                name="sluice-scheduler",
                daemon=True,
            )
            self._scheduler_thread.start()
        if self.dispatcher is not None:
            self.dispatcher.start()
        log.info(
            "engine started: %s, scheduler %s, webhook delivery %s",
            "runs sent to Celery workers"
            if self.celery is not None
            else f"{self.executor_workers} worker(s)",
            "on" if self.scheduler else "off",
            "on" if self.dispatcher else "off",
        )

    @property
    def executor_workers(self) -> int:
        return len(self.executor.workers) if self.executor is not None else 0

    @property
    def notifies(self) -> bool:
        """Whether `notify` tells anyone: local workers or the Celery broker."""
        return self.celery is not None or self.executor is not None

    def expect_runs(self) -> None:
        """Runs are coming (the API created a connection or a flow, or enabled a flow): this
        process's local workers load the engine now, in the background. Celery workers are
        elsewhere."""
        if self.executor is not None:
            load_in_background()

    def notify(self, run_id: str) -> None:
        if self.celery is not None:
            self.celery.notify(run_id)
        elif self.executor is not None:
            self.executor.notify(run_id)

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful: no new claims; runs in hand may finish within `timeout`."""
        self._stop.set()
        if self.executor is not None:
            self.executor.stop(timeout)
        if self._scheduler_thread is not None:
            self._scheduler_thread.join(timeout)
        if self.dispatcher is not None:
            self.dispatcher.stop(timeout)
