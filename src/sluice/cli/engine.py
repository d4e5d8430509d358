"""`sluice worker` and `sluice scheduler`: the engine as separate processes (scaled out)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from sluice.cli.output import console, reported_errors
from sluice.cli.serve import configure_logging
from sluice.config import Settings
from sluice.engine.celery_executor import executor_from_settings
from sluice.engine.engine_context import EngineContext, engine_context
from sluice.engine.supervisor import EngineSupervisor, execute_run, load_engine_ahead
from sluice.webhooks.dispatcher import dispatcher_from_settings

RUNNING = "SIGTERM or Ctrl-C stops it gracefully"


def _run_until_signalled(services: EngineSupervisor, what: str) -> None:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"{signal.Signals(signum).name}: stopping {what} gracefully")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    services.start()
    console.print(f"{what} running; {RUNNING}")
    stop.wait()
    services.stop()


def worker(
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker threads (local executor).")
    ] = 2,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            help="Runs at once (Celery executor; default SLUICE_WORKER_CONCURRENCY or 2).",
        ),
    ] = None,
    queues: Annotated[
        str | None,
        typer.Option(
            "--queues",
            help="Comma-separated queues to serve (Celery executor; default "
            "SLUICE_WORKER_QUEUES or 'sluice').",
        ),
    ] = None,
    prefetch: Annotated[
        int | None,
        typer.Option(
            "--prefetch",
            min=1,
            help="Messages reserved per run slot (Celery executor; default "
            "SLUICE_WORKER_PREFETCH or 1).",
        ),
    ] = None,
) -> None:
    """Execute runs until stopped: due runs claimed from the metadata database (local
    executor), or the run tasks of a Celery broker (SLUICE_EXECUTOR=celery)."""
    settings = Settings()
    configure_logging(settings.log_level)
    if settings.executor == "celery":
        _celery_worker(settings, concurrency, queues, prefetch)
        return
    with reported_errors():
        services = EngineSupervisor(engine_context(settings), workers=workers, scheduler=False)
    _run_until_signalled(services, "worker")


def _celery_worker(
    settings: Settings, concurrency: int | None, queues: str | None, prefetch: int | None
) -> None:
    from sluice.engine.celery_worker import run_celery_worker

    with reported_errors():
        broker_url = settings.celery_broker_url()
        served = settings.queue_list(queues)
        ctx: EngineContext = engine_context(settings)
    slots = concurrency or settings.worker_concurrency
    load_engine_ahead(ctx.sessions)

    def ready() -> None:
        console.print(
            f"celery worker running ({slots} run slot(s), queues {', '.join(served)}); {RUNNING}"
        )

    code = run_celery_worker(
        ctx.sessions,
        lambda _claim, guard: execute_run(ctx, guard),
        broker_url,
        concurrency=slots,
        queues=served,
        prefetch=prefetch or settings.worker_prefetch,
        lease_ms=ctx.lease_ms,
        log_level=settings.log_level,
        on_ready=ready,
    )
    if code:
        raise typer.Exit(code)


def scheduler() -> None:
    """Create the runs of scheduled flows (one scheduler leads, the others stand by), and
    deliver webhooks. With SLUICE_EXECUTOR=celery the leader also sends the runs' tasks and
    sweeps up the runs whose task was lost."""
    settings = Settings()
    configure_logging(settings.log_level)
    with reported_errors():
        ctx = engine_context(settings)
        services = EngineSupervisor(
            ctx,
            workers=0,
            scheduler=True,
            scheduler_interval_seconds=settings.scheduler_interval_seconds,
            dispatcher=dispatcher_from_settings(settings, ctx.sessions, ctx.secret_box),
            celery=executor_from_settings(settings, ctx.sessions),
            sweep_interval_seconds=settings.sweep_interval_seconds,
        )
    _run_until_signalled(services, "scheduler")
