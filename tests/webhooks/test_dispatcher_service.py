"""The dispatcher as `sluice serve` runs it (with the engine), and the log's retention."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from fastapi.testclient import TestClient
from receiver import Receiver
from sqlalchemy import func, select
from webhook_helpers import Caller, deliveries, make_orders, start_run, subscribe, table_flow

from sluice.api.app import create_app
from sluice.config import Settings
from sluice.engine.engine_context import EngineContext
from sluice.engine.worker import Worker
from sluice.store import clock
from sluice.store.models import WebhookDelivery, WebhookEvent
from sluice.webhooks.dispatcher import WebhookDispatcher

DAY = 86_400_000


def test_serve_delivers_run_events_on_its_own(
    caller: Caller, settings: Settings, receiver: Receiver
) -> None:
    engine_settings = settings.model_copy(
        update={"workers": 1, "scheduler": False, "webhook_poll_seconds": 0.05}
    )
    app = create_app(engine_settings, run_engine=True)
    with TestClient(app) as http:
        caller = dataclasses.replace(caller, http=http)  # same keys: its token is valid here
        subscribe(caller, receiver.url, ["flow_run_success"])
        flow = table_flow(caller, make_orders(Path(settings.allowed_file_roots[0])))
        run_id = start_run(caller, flow)
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
    (request,) = receiver.requests
    assert json.loads(request.body)["data"]["runId"] == run_id


def test_webhook_delivery_can_be_turned_off(settings: Settings) -> None:
    from sluice.webhooks.dispatcher import dispatcher_from_settings

    off = settings.model_copy(update={"webhook_delivery": False})
    assert dispatcher_from_settings(off, None, None) is None  # type: ignore[arg-type]


def test_finished_deliveries_are_pruned_after_the_retention(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    dispatcher: WebhookDispatcher, engine: EngineContext,
) -> None:
    delivered = subscribe(caller, receiver.url, ["flow_run_success"])
    subscribe(caller, "http://127.0.0.1:9/down", ["flow_run_success"], name="down")
    start_run(caller, table_flow(caller, make_orders(Path(settings.allowed_file_roots[0]))))
    worker.run_once()
    dispatcher.run_once()
    assert dispatcher.prune() == 0  # younger than the retention
    assert dispatcher.prune(now_ms=clock.now_ms() + 8 * DAY) == 1
    assert deliveries(caller, delivered)["items"] == []
    with engine.sessions() as session:
        statuses = list(session.scalars(select(WebhookDelivery.status)))
        events = session.scalar(select(func.count()).select_from(WebhookEvent))
    assert statuses == ["pending"] and events == 1  # the pending one keeps its event
