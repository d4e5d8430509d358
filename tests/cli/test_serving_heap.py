"""A serving process keeps its startup heap out of the garbage collector's walks."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sluice.cli import serve
from sluice.cli.serving_heap import YOUNGEST_GENERATION_THRESHOLD, prepare_heap_for_serving


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_the_startup_heap_is_frozen_and_young_collections_are_rarer() -> None:
    _, middle, oldest = gc.get_threshold()
    prepare_heap_for_serving()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNGEST_GENERATION_THRESHOLD, middle, oldest)


@pytest.mark.usefixtures("restored_collector")
def test_each_api_process_prepares_its_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--api-processes` children build their app through the factory, after the fork."""
    prepared: list[bool] = []
    monkeypatch.setattr(serve, "prepare_heap_for_serving", lambda: prepared.append(True))
    monkeypatch.setattr("sluice.api.app.create_app", lambda settings, run_engine: object())
    serve.api_process_app()
    assert prepared == [True]
