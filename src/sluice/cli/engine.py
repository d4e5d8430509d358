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
from sluice.engine.engine_context import engine_context
from sluice.engine.supervisor import EngineSupervisor
from sluice.webhooks.dispatcher import dispatcher_from_settings


def _run_until_signalled(services: EngineSupervisor, what: str) -> None:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"{signal.Signals(signum).name}: stopping {what} gracefully")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    services.start()
    console.print(f"{what} running; SIGTERM or Ctrl-C stops it gracefully")
    stop.wait()
    services.stop()


def worker(
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker threads.")] = 2,
) -> None:
    """Claim and execute due runs from the metadata database until stopped."""
    settings = Settings()
    configure_logging(settings.log_level)
    with reported_errors():
        services = EngineSupervisor(engine_context(settings), workers=workers, scheduler=False)
    _run_until_signalled(services, "worker")


def scheduler() -> None:
    """Create the runs of scheduled flows (one scheduler leads, the others stand by), and
    deliver webhooks."""
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
        )
    _run_until_signalled(services, "scheduler")
