"""The Celery executor's settings: a broker URL is required and checked without ever being
echoed (it carries the broker's password), queue names are checked, and only processes
configured for Celery build its sender."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sluice.config import Settings
from sluice.domain.errors import ConfigurationError
from sluice.engine.celery_executor import CeleryExecutor, executor_from_settings
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
