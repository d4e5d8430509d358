"""`engine.warmup`: the run engine loaded once per process, in the background, when runs are
coming. The real process is in tests/e2e/test_engine_loads_ahead.py; here, what decides whether
the load happens, with the import itself recorded instead of made."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sluice.engine import warmup


@pytest.fixture
def imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The modules the warm-up imports, recorded; a fresh process's state."""
    seen: list[str] = []
    monkeypatch.setattr(warmup, "_loading", None)
    monkeypatch.setattr(warmup, "_asked_outright", False)
    monkeypatch.setattr(warmup.importlib, "import_module", seen.append)
    yield seen
    loading = warmup._loading
    if loading is not None:
        loading.join(10)


def settled() -> None:
    loading = warmup._loading
    if loading is not None:
        loading.join(10)
        assert not loading.is_alive()


def test_the_engine_loads_once_however_often_runs_are_announced(imports: list[str]) -> None:
    for _ in range(5):
        warmup.load_in_background()
    settled()

    assert imports == [warmup.ENGINE_MODULE]


def test_a_store_without_runs_to_come_loads_nothing_until_a_flow_is_created(
    imports: list[str],
) -> None:
    warmup.load_in_background(lambda: False)
    settled()
    assert imports == []

    warmup.load_in_background()
    settled()
    assert imports == [warmup.ENGINE_MODULE]


def test_a_failing_check_is_logged_and_loads_nothing(
    imports: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> bool:
        raise RuntimeError("metadata database unreachable")

    warmup.load_in_background(broken)
    settled()

    assert imports == []
    assert "engine loads with the first" in caplog.text


def test_a_flow_created_while_the_store_is_checked_still_loads_the_engine(
    imports: list[str],
) -> None:
    checking, answer = threading.Event(), threading.Event()

    def slow_no() -> bool:
        checking.set()
        answer.wait(10)
        return False

    warmup.load_in_background(slow_no)
    assert checking.wait(10)
    warmup.load_in_background()  # the API created a flow meanwhile
    answer.set()
    settled()

    assert imports == [warmup.ENGINE_MODULE]


def test_a_failed_load_leaves_the_error_to_the_first_run(
    monkeypatch: pytest.MonkeyPatch, imports: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    def failing(name: str) -> None:
        raise ImportError(f"{name}: libdeltalake missing")

    monkeypatch.setattr(warmup.importlib, "import_module", failing)

    warmup.load_in_background()
    settled()

    assert "loading the run engine ahead of the first run failed" in caplog.text
    assert "libdeltalake missing" in caplog.text
