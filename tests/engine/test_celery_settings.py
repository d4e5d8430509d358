"""The Celery executor's settings: a broker URL is required and checked without ever being
echoed (it carries the broker's password), queue names are checked, and only processes
configured for Celery build its sender."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sluice.config import Settings
from sluice.domain.errors import ConfigurationError
from sluice.engine.celery_executor import CeleryExecutor, celery_app, executor_from_settings
from sluice.engine.celery_worker import _FETCH_TICK_SECONDS, _FetchTick, worker_app
from sluice.store.run_dispatch import ReadyRun
from support.net import closed_port


def test_the_celery_executor_needs_a_broker_url_of_a_supported_scheme() -> None:
    with pytest.raises(ConfigurationError, match="SLUICE_BROKER_URL must be set"):
        Settings(executor="celery").celery_broker_url()
    with pytest.raises(ConfigurationError, match="scheme 'http' is not supported") as caught:
        Settings(executor="celery", broker_url="http://me:s3cr3t@host/").celery_broker_url()
    assert "s3cr3t" not in str(caught.value)
    for url in ("redis://127.0.0.1:6379/9", "amqp://guest:guest@127.0.0.1:5672//"):
        assert Settings(executor="celery", broker_url=url).celery_broker_url() == url
    with pytest.raises(ValidationError):
        Settings(executor="threads")


def test_worker_queues_are_checked_names() -> None:
    settings = Settings()
    assert settings.queue_list() == ("sluice",)
    assert settings.queue_list(" big, sluice ,") == ("big", "sluice")
    for bad in ("not ok", "a/b", "x" * 65, ","):
        with pytest.raises(ConfigurationError, match="Worker queues"):
            settings.queue_list(bad)


def test_only_a_celery_process_builds_a_sender_and_its_repr_hides_the_password() -> None:
    assert executor_from_settings(Settings(), sessions=None) is None  # type: ignore[arg-type]
    settings = Settings(executor="celery", broker_url="redis://:pw-123@127.0.0.1:6379/9")
    executor = executor_from_settings(settings, sessions=None)  # type: ignore[arg-type]
    assert isinstance(executor, CeleryExecutor)
    assert "pw-123" not in repr(settings)
    executor.app.close()


def test_a_sender_gives_up_quickly_on_a_broker_that_is_down_and_then_pauses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A real Celery sender against a port nothing listens on (a broker that is down).
    url = f"redis://127.0.0.1:{closed_port()}/0"
    executor = CeleryExecutor.for_broker(url, sessions=None)  # type: ignore[arg-type]
    attempts: list[str] = []
    send = executor.app.send_task

    def counted(*args: object, **kwargs: object) -> object:
        attempts.append(str(args[0]))
        return send(*args, **kwargs)

    executor.app.send_task = counted  # type: ignore[method-assign]
    runs = [ReadyRun("run-1", "sluice"), ReadyRun("run-2", "sluice")]
    try:
        assert executor.publish(runs) == []
        assert attempts == ["sluice.run_ready"]  # stopped at the first failure
        assert "sweep will send them again" in caplog.text
        assert executor.publish(runs) == []  # paused: not even tried
        assert attempts == ["sluice.run_ready"]
    finally:
        executor.app.close()


def test_tasks_are_acknowledged_when_they_start_and_redis_acks_cannot_fail() -> None:
    """A late or emulated ack runs on the run's thread and writes to the broker: one that
    failed while Redis was down left the worker deaf after the restart."""
    redis_app = celery_app("redis://127.0.0.1:6379/9")
    assert redis_app.conf.task_acks_late is False
    assert redis_app.conf.broker_transport_options["ack_emulation"] is False
    rabbit_app = celery_app("amqp://guest:guest@127.0.0.1:5672//")
    assert rabbit_app.conf.task_acks_late is False
    assert "ack_emulation" not in (rabbit_app.conf.broker_transport_options or {})


class _RecordingTimer:
    def __init__(self) -> None:
        self.repeating: list[float] = []
        self.cancelled = 0

    def call_repeatedly(self, seconds: float, callback: object) -> _RecordingTimer:
        self.repeating.append(seconds)
        return self

    def cancel(self) -> None:
        self.cancelled += 1


def test_a_worker_consumer_is_woken_often_to_fetch_for_a_freed_slot() -> None:
    """The pool thread that ends a run cannot wake the consumer's loop: the tick must, well
    under a second apart (Celery's own timers sleep for seconds)."""
    app = worker_app("redis://127.0.0.1:6379/9", prefetch=1)
    assert _FetchTick in app.steps["consumer"]
    timer = _RecordingTimer()

    class Consumer:
        pass

    consumer = Consumer()
    consumer.timer = timer  # type: ignore[attr-defined]
    step = _FetchTick(consumer)
    step.start(consumer)
    assert timer.repeating == [_FETCH_TICK_SECONDS] and _FETCH_TICK_SECONDS <= 0.1
    step.stop(consumer)
    assert timer.cancelled == 1
