"""Who hears of a new run: the local workers or the broker, after the answer is sent; an
API-only process with neither schedules no background task (it would cost a thread hop)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from sluice.api.app_context import AppContext
from sluice.api.routers.common import notify_after_commit


def _context(**fields: Any) -> AppContext:
    return AppContext(settings=None, engine=None, sessions=None, signer=None,  # type: ignore[arg-type]
                      secret_box=None, **fields)


def test_an_api_only_process_schedules_no_notification() -> None:
    context = _context()
    assert not context.notifies_run_ready
    assert notify_after_commit(context, "run-1") is None


def test_workers_or_a_broker_hear_of_each_run_after_the_answer() -> None:
    heard: list[str] = []
    context = replace(_context(), notify_run_ready=heard.append)
    assert context.notifies_run_ready
    task = notify_after_commit(context, "run-1", "run-2")
    assert task is not None and heard == []
    asyncio.run(task())
    assert heard == ["run-1", "run-2"]
