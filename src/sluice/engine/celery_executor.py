"""The Celery executor's sending side: "run X is ready" tasks, from the API and the scheduler.

A task carries only a run id (DESIGN section 1). The worker that receives it claims the run in
the metadata database before anything else (`Worker.run_ready`), so a task delivered twice,
late, or after a broker restart is a no-op, and a task never sent or lost is made up for by
the leading scheduler's sweep (`engine/scheduler.py`). Sending therefore never has to be
reliable, only quick: a broker that is down costs one bounded retry and a warning, never a
failed or hanging request.

Celery is imported only by processes configured for it (`SLUICE_EXECUTOR=celery`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sluice.config import Settings
from sluice.engine.claims import Sessions
from sluice.store.run_dispatch import ReadyRun, queues_of

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

TASK_NAME = "sluice.run_ready"
# A sender's patience with the broker: connect and write timeouts (seconds) and one retry.
SEND_TIMEOUT_SECONDS = 2.0
# After a failed send, sends are skipped (left to the sweep) this long: while the broker is
# down, request threads must not each wait out the timeouts.
BROKER_DOWN_PAUSE_SECONDS = 10.0
_SEND_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0,
    "interval_max": 0.2,
}


def celery_app(broker_url: str, *, prefetch: int = 1, sender: bool = False) -> Celery:
    """The Celery application of one process. A sender (API, scheduler) gives up on the
    broker quickly; a worker (`sluice worker`) retries its connection forever, including at
    start-up, and reserves `prefetch` messages per run slot."""
    from celery import Celery

    from sluice.domain.flow_specs import DEFAULT_QUEUE

    app = Celery("sluice", broker=broker_url, set_as_current=False)
    settings: dict[str, Any] = {
        "task_default_queue": DEFAULT_QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        # Acknowledged when the task starts. A late ack would buy nothing: a task given back
        # after its worker died finds the run's lease still live and does nothing; the
        # sweep re-sends the run once the lease runs out. And it would cost: on RabbitMQ a
        # run longer than `consumer_timeout` would lose its channel.
        "task_acks_late": False,
        "worker_prefetch_multiplier": prefetch,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None if not sender else 1,
        "broker_channel_error_retry": True,
    }
    if sender:
        settings |= {
            "broker_connection_timeout": SEND_TIMEOUT_SECONDS,
            "broker_pool_limit": 4,
            "task_publish_retry_policy": _SEND_RETRY_POLICY,
        }
    if broker_url.lower().startswith("redis"):
        settings["broker_transport_options"] = _redis_transport_options(sender=sender)
    app.conf.update(settings)
    return app


def _redis_transport_options(*, sender: bool) -> dict[str, Any]:
    """Redis: no acknowledgement emulation. Its ack writes to Redis from the pool thread,
    and one that fails while the broker is down leaves the message counted against the
    prefetch limit for good: the worker stops fetching after the restart. Without it a
    message leaves Redis when a worker takes it; one lost with its worker is the sweep's."""
    options: dict[str, Any] = {"ack_emulation": False}
    if sender:
        options |= {
            "socket_connect_timeout": SEND_TIMEOUT_SECONDS,
            "socket_timeout": SEND_TIMEOUT_SECONDS,
        }
    return options


class CeleryExecutor:
    """The executor of the API and scheduler processes: no workers here, `notify` sends."""

    def __init__(self, app: Celery, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions
        self._lock = threading.Lock()
        self._paused_until = 0.0

    @classmethod
    def for_broker(cls, broker_url: str, sessions: Sessions) -> CeleryExecutor:
        return cls(celery_app(broker_url, sender=True), sessions)

    def start(self) -> None:
        """Nothing runs here: `sluice worker` processes take the tasks."""

    def stop(self, timeout: float | None = None) -> bool:
        return True

    def notify(self, run_id: str) -> None:
        """Send run `run_id`'s task to its flow's queue (after the run was committed)."""
        try:
            with self.sessions() as session:
                ready = queues_of(session, [run_id])
        except Exception:
            log.warning("Could not read run %s's queue; the sweep will send its task.", run_id)
            return
        self.publish(ready)

    def publish(self, runs: Sequence[ReadyRun]) -> list[str]:
        """Send the runs' tasks; the ids sent. Stops at the first failure (the broker is
        down: the others would fail the same way, each after its timeout), and sends nothing
        for BROKER_DOWN_PAUSE_SECONDS after one."""
        sent: list[str] = []
        if runs and time.monotonic() < self._paused_until:
            log.debug("Broker recently unreachable: %d task(s) left to the sweep.", len(runs))
            return sent
        for run in runs:
            try:
                self.app.send_task(
                    TASK_NAME,
                    args=[run.run_id],
                    queue=run.queue,
                    routing_key=run.queue,
                    retry=True,
                    retry_policy=_SEND_RETRY_POLICY,
                )
            except Exception as error:
                with self._lock:
                    self._paused_until = time.monotonic() + BROKER_DOWN_PAUSE_SECONDS
                # The error names the broker's host, never its password.
                log.warning(
                    "Could not send %d run task(s) to the broker (%s: %s); the scheduler's "
                    "sweep will send them again.",
                    len(runs) - len(sent),
                    type(error).__name__,
                    error,
                )
                break
            sent.append(run.run_id)
        return sent


def executor_from_settings(settings: Settings, sessions: Sessions) -> CeleryExecutor | None:
    """The sending side of the Celery executor when SLUICE_EXECUTOR=celery, else None.
    Raises ConfigurationError (naming the setting, never the URL) for a missing or
    unusable SLUICE_BROKER_URL, so a misconfigured process stops at start."""
    if settings.executor != "celery":
        return None
    return CeleryExecutor.for_broker(settings.celery_broker_url(), sessions)
