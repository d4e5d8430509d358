"""Webhook fixtures: a live receiver, a flow over a SQLite source, a worker, a dispatcher."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from receiver import Receiver, running_receiver
from webhook_helpers import make_dispatcher

from sluice.config import Settings
from sluice.engine.engine_context import EngineContext, engine_context
from sluice.engine.runner import execute_run
from sluice.engine.worker import Worker
from sluice.webhooks.dispatcher import WebhookDispatcher


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def engine(settings: Settings) -> Iterator[EngineContext]:
    ctx = engine_context(settings)
    yield ctx
    bind = ctx.sessions.kw.get("bind")
    if bind is not None:
        bind.dispose()


@pytest.fixture
def worker(engine: EngineContext) -> Worker:
    return Worker(engine.sessions, lambda _claim, guard: execute_run(engine, guard))


@pytest.fixture
def dispatcher(engine: EngineContext) -> WebhookDispatcher:
    return make_dispatcher(engine)
