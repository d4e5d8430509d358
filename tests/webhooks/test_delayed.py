"""`flow_run_delayed`: a run in progress longer than its flow's `delayAlertMinutes`."""

from __future__ import annotations

import json
from pathlib import Path

from receiver import Receiver
from sqlalchemy import select
from webhook_helpers import Caller, make_orders, start_run, subscribe, table_flow

from sluice.config import Settings
from sluice.engine import claims
from sluice.engine.engine_context import EngineContext
from sluice.engine.scheduler import Scheduler
from sluice.store import clock
from sluice.store.models import WebhookEvent
from sluice.webhooks.dispatcher import WebhookDispatcher
from sluice.webhooks.outbox import record_delayed_runs

MINUTE = 60_000


def delayed_run_ids(engine: EngineContext) -> list[str | None]:
    with engine.sessions() as session:
        return list(session.scalars(
            select(WebhookEvent.run_id).where(WebhookEvent.event_type == "flow_run_delayed")))


def test_a_run_past_its_flow_threshold_is_reported_once(
    caller: Caller, settings: Settings, receiver: Receiver, engine: EngineContext,
    dispatcher: WebhookDispatcher,
) -> None:
    subscribe(caller, receiver.url, ["flow_run_delayed"])
    db = make_orders(Path(settings.allowed_file_roots[0]))
    quick = table_flow(caller, db, name="quick", delayAlertMinutes=5)
    default = table_flow(caller, db, name="default")
    quick_run, default_run = start_run(caller, quick), start_run(caller, default)
    for _ in range(2):
        assert claims.claim_due_run(engine.sessions, "w", lease_ms=24 * 60 * MINUTE)
    now = clock.now_ms()

    assert record_delayed_runs(engine.sessions, now_ms=now + 4 * MINUTE) == 0
    assert record_delayed_runs(engine.sessions, now_ms=now + 6 * MINUTE) == 1
    assert record_delayed_runs(engine.sessions, now_ms=now + 7 * MINUTE) == 0
    assert delayed_run_ids(engine) == [quick_run]
    # The default threshold is 150 minutes; the leading scheduler checks on every pass.
    scheduler = Scheduler(engine.sessions)
    assert scheduler.run_once(now_ms=now + 149 * MINUTE)
    assert sorted(map(str, delayed_run_ids(engine))) == [quick_run]
    assert scheduler.run_once(now_ms=now + 151 * MINUTE)
    assert sorted(map(str, delayed_run_ids(engine))) == sorted([quick_run, default_run])

    assert dispatcher.run_once(now_ms=now + 152 * MINUTE) == 2
    events = {event["data"]["runId"]: event
              for event in (json.loads(r.body) for r in receiver.requests)}
    assert events[quick_run]["type"] == "flow_run_delayed"
    assert events[quick_run]["data"]["delayAlertMinutes"] == 5
    assert events[quick_run]["data"]["status"] == "inProgress"
    assert events[default_run]["data"]["delayAlertMinutes"] == 150


def test_a_run_that_ended_is_not_reported_late(
    caller: Caller, settings: Settings, receiver: Receiver, engine: EngineContext,
) -> None:
    subscribe(caller, receiver.url, ["flow_run_delayed"])
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow = table_flow(caller, db, delayAlertMinutes=1)
    start_run(caller, flow)
    claim = claims.claim_due_run(engine.sessions, "w", lease_ms=60 * MINUTE)
    assert claim is not None
    claims.finish_run(engine.sessions, claim, status="success", completed_at_ms=clock.now_ms(),
                      doc={}, output_records=0, committed_version=None)
    assert record_delayed_runs(engine.sessions, now_ms=clock.now_ms() + 60 * MINUTE) == 0
    assert delayed_run_ids(engine) == []
