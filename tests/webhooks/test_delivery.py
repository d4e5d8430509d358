"""Run events delivered to a real receiver: signed, retried, durable across restarts, logged.

A real Worker executes runs over a SQLite source; the dispatcher posts to an http.server on
127.0.0.1. Retries are driven by passing a later `now_ms`, never by waiting.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from receiver import Receiver
from sqlalchemy import func, select
from webhook_helpers import (
    SECRET,
    Caller,
    deliveries,
    flow_with_run,
    make_dispatcher,
    make_orders,
    start_run,
    subscribe,
    table_flow,
)

from sluice.config import Settings
from sluice.engine import claims
from sluice.engine.engine_context import EngineContext
from sluice.engine.worker import Worker
from sluice.store import clock
from sluice.store.models import Run, WebhookDelivery, WebhookEvent
from sluice.webhooks import deliveries as queue
from sluice.webhooks import signing
from sluice.webhooks.dispatcher import WebhookDispatcher

LATER = 3_600_000  # an hour: past any backoff of these tests


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.requests]


def count(engine: EngineContext, model: Any) -> int:
    with engine.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_successful_run_is_announced_twice_signed(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    dispatcher: WebhookDispatcher, engine: EngineContext,
) -> None:
    webhook_id = subscribe(caller, receiver.url)
    flow, run_id = flow_with_run(caller, settings)
    assert worker.run_once()
    assert dispatcher.run_once() == 2

    assert sorted(b["type"] for b in bodies(receiver)) == ["flow_run_started", "flow_run_success"]
    for request in receiver.requests:
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert request.path == "/hooks/sluice"
        assert headers["content-type"] == "application/json"
        assert headers["x-sluice-signature"].startswith("sha256=")
        assert signing.verify(SECRET, headers["x-sluice-timestamp"], request.body,
                              headers["x-sluice-signature"])
        assert not signing.verify("wrong-secret-of-some-length", headers["x-sluice-timestamp"],
                                  request.body, headers["x-sluice-signature"])
        assert not signing.verify(SECRET, headers["x-sluice-timestamp"], request.body + b" ",
                                  headers["x-sluice-signature"])
        body = json.loads(request.body)
        assert headers["x-sluice-event"] == body["type"]
        assert headers["x-sluice-event-id"] == body["id"]
    success = next(b for b in bodies(receiver) if b["type"] == "flow_run_success")
    data = success["data"]
    assert (data["runId"], data["flowId"], data["status"]) == (run_id, flow, "success")
    assert data["flowName"] == "orders flow"
    assert data["recordSummary"]["outputRecordCount"] == 12
    assert data["sizeSummary"]["outputBytes"] > 0
    assert data["deltaVersion"] == 0 and data["errors"] == []
    with engine.sessions() as session:  # the column the metrics sum up
        assert session.get_one(Run, run_id).output_bytes == data["sizeSummary"]["outputBytes"]
    assert success["imsOrgId"] == caller.org_id and success["sandboxName"] == "prod"
    assert success["_links"]["run"]["href"].endswith(f"/runs/{run_id}")

    log = deliveries(caller, webhook_id)["items"]
    assert {d["status"] for d in log} == {"delivered"}
    assert all(d["attempts"] == 1 and d["lastStatusCode"] == 200 for d in log)
    assert dispatcher.run_once() == 0  # nothing is sent twice


def test_a_failed_run_carries_its_coded_error(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    dispatcher: WebhookDispatcher,
) -> None:
    subscribe(caller, receiver.url, ["flow_run_failed"])
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow = table_flow(caller, db)
    run_id = start_run(caller, flow)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE orders")
    worker.run_once()
    assert dispatcher.run_once() == 1
    (event,) = bodies(receiver)
    assert event["type"] == "flow_run_failed" and event["data"]["runId"] == run_id
    assert event["data"]["status"] == "failed"
    assert event["data"]["errors"][0]["code"].startswith("CONNECTOR-")


def test_a_500_is_retried_with_backoff_and_logged(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    dispatcher: WebhookDispatcher,
) -> None:
    webhook_id = subscribe(caller, receiver.url, ["flow_run_success"])
    flow_with_run(caller, settings)
    worker.run_once()
    receiver.statuses.extend([500])

    assert dispatcher.run_once() == 1
    (pending,) = deliveries(caller, webhook_id)["items"]
    assert pending["status"] == "pending" and pending["attempts"] == 1
    assert pending["lastStatusCode"] == 500 and pending["lastError"] == "HTTP 500"
    assert pending["nextAttemptAt"] > pending["updatedAt"]
    assert dispatcher.run_once() == 0  # not due before the backoff

    assert dispatcher.run_once(now_ms=clock.now_ms() + LATER) == 1
    (delivered,) = deliveries(caller, webhook_id)["items"]
    assert delivered["status"] == "delivered" and delivered["attempts"] == 2
    assert [a["statusCode"] for a in delivered["attemptLog"]] == [500, 200]
    assert delivered["deliveredAt"] is not None and delivered["nextAttemptAt"] is None
    first, second = receiver.requests
    assert first.body == second.body  # the same event, byte for byte
    assert first.headers["X-Sluice-Event-Id"] == second.headers["X-Sluice-Event-Id"]


def test_attempts_stop_at_the_limit(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    engine: EngineContext,
) -> None:
    dispatcher = make_dispatcher(engine, max_attempts=2)
    webhook_id = subscribe(caller, receiver.url, ["flow_run_success"])
    flow_with_run(caller, settings)
    worker.run_once()
    receiver.default_status = 503
    dispatcher.run_once()
    dispatcher.run_once(now_ms=clock.now_ms() + LATER)
    assert dispatcher.run_once(now_ms=clock.now_ms() + 2 * LATER) == 0
    (failed,) = deliveries(caller, webhook_id, status="failed")["items"]
    assert failed["attempts"] == 2 and failed["lastStatusCode"] == 503
    assert len(receiver.requests) == 2


def test_a_restarted_dispatcher_delivers_what_was_pending(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    engine: EngineContext,
) -> None:
    webhook_id = subscribe(caller, receiver.url, ["flow_run_started", "flow_run_success"])
    flow_with_run(caller, settings)
    worker.run_once()
    # One dispatcher claims the deliveries and dies before posting anything.
    claimed = queue.claim_due(engine.sessions, now_ms=clock.now_ms(), lease_ms=60_000, limit=10)
    assert len(claimed) == 2
    restarted = make_dispatcher(engine)
    assert restarted.run_once() == 0  # the dead one's claims hold until their lease ends
    assert restarted.run_once(now_ms=clock.now_ms() + 120_000) == 2
    assert sorted(b["type"] for b in bodies(receiver)) == ["flow_run_started", "flow_run_success"]
    assert {d["status"] for d in deliveries(caller, webhook_id)["items"]} == {"delivered"}
    # The dead dispatcher's late write is refused: its claim token is gone.
    result = queue.AttemptResult(clock.now_ms(), 5, status_code=200)
    assert queue.record_attempt(engine.sessions, claimed[0], result, retry_at_ms=None) is None


def test_events_wait_in_the_outbox_while_the_receiver_is_down(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    engine: EngineContext,
) -> None:
    target = receiver.url
    subscribe(caller, "http://127.0.0.1:9/unreachable", ["flow_run_success"], name="down")
    webhook_id = subscribe(caller, target, ["flow_run_success"])
    flow_with_run(caller, settings)
    worker.run_once()
    first = make_dispatcher(engine)
    first.run_once()
    down = [d for d in deliveries(caller, webhook_id)["items"]]
    assert [d["status"] for d in down] == ["delivered"]
    listing = caller.get("/data/foundation/flowservice/webhooks",
                         params={"property": "name==down"}).json()["items"]
    (refused,) = deliveries(caller, listing[0]["id"])["items"]
    assert refused["status"] == "pending" and refused["lastStatusCode"] is None
    assert refused["lastError"]
    assert count(engine, WebhookEvent) == 1 and count(engine, WebhookDelivery) == 2


def test_a_slow_receiver_times_out(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    engine: EngineContext,
) -> None:
    dispatcher = make_dispatcher(engine, timeout_seconds=0.2)
    webhook_id = subscribe(caller, receiver.url, ["flow_run_success"])
    flow_with_run(caller, settings)
    worker.run_once()
    receiver.delay_seconds = 1.0
    dispatcher.run_once()
    (slow,) = deliveries(caller, webhook_id)["items"]
    assert slow["status"] == "pending" and "no response within 0.2s" in slow["lastError"]


def test_nothing_is_stored_without_a_subscriber(
    caller: Caller, settings: Settings, worker: Worker, engine: EngineContext,
) -> None:
    flow_with_run(caller, settings)
    worker.run_once()
    assert count(engine, WebhookEvent) == 0


def test_filters_by_flow_and_event_and_skips_disabled_subscriptions(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    dispatcher: WebhookDispatcher,
) -> None:
    db = make_orders(Path(settings.allowed_file_roots[0]))
    watched = table_flow(caller, db, name="watched")
    other = table_flow(caller, db, name="other")
    subscribe(caller, receiver.url, ["flow_run_success"], flowId=watched)
    subscribe(caller, receiver.url, ["flow_run_failed"])
    paused = subscribe(caller, receiver.url, ["flow_run_success"], enabled=False)
    start_run(caller, watched)
    start_run(caller, other)
    while worker.run_once():
        pass
    dispatcher.run_once()
    (event,) = bodies(receiver)
    assert event["data"]["flowId"] == watched and event["type"] == "flow_run_success"
    assert deliveries(caller, paused)["items"] == []


def test_a_stale_worker_finishes_nothing_and_announces_nothing(
    caller: Caller, settings: Settings, receiver: Receiver, engine: EngineContext,
) -> None:
    subscribe(caller, receiver.url, ["flow_run_success", "flow_run_started"])
    _flow, run_id = flow_with_run(caller, settings)
    claim = claims.claim_due_run(engine.sessions, "w1", lease_ms=1)
    assert claim is not None and claim.run_id == run_id
    takeover = claims.claim_due_run(engine.sessions, "w2", lease_ms=60_000,
                                    now_ms=clock.now_ms() + 10)
    assert takeover is not None and takeover.attempt == 2
    with engine.sessions() as session:
        types = list(session.scalars(select(WebhookEvent.event_type)))
    assert types == ["flow_run_started"]  # the takeover is not a second start


def test_the_delivery_log_pages_newest_first(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    dispatcher: WebhookDispatcher,
) -> None:
    webhook_id = subscribe(caller, receiver.url)
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow = table_flow(caller, db)
    start_run(caller, flow, (0, 6))
    start_run(caller, flow, (6, 12))
    while worker.run_once():
        pass
    dispatcher.run_once()
    everything = deliveries(caller, webhook_id, limit=100)["items"]
    assert len(everything) == 4 and everything[0]["eventType"] == "flow_run_success"
    created = [d["createdAt"] for d in everything]
    assert created == sorted(created, reverse=True)
    seen, page = [], deliveries(caller, webhook_id, limit=3)
    while True:
        seen += [d["id"] for d in page["items"]]
        href = page["_links"].get("next", {}).get("href")
        if not href:
            break
        assert href.startswith("/webhooks/")  # relative to the flow service
        page = caller.get("/data/foundation/flowservice" + href).json()
    assert seen == [d["id"] for d in everything]
    entry = everything[0]
    assert entry["payload"]["type"] == entry["eventType"]
    assert entry["attemptLog"][0]["statusCode"] == 200
    assert entry["attemptLog"][0]["durationMs"] >= 0


def test_an_unexpected_client_error_is_a_logged_attempt_not_a_stuck_claim(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    engine: EngineContext,
) -> None:
    def broken_post(*_args: object) -> int:
        raise ValueError("cannot send there")

    dispatcher = WebhookDispatcher(engine.sessions, engine.secret_box, post=broken_post)
    webhook_id = subscribe(caller, receiver.url, ["flow_run_success"])
    flow_with_run(caller, settings)
    worker.run_once()
    assert dispatcher.run_once() == 1
    (entry,) = deliveries(caller, webhook_id)["items"]
    assert entry["status"] == "pending" and entry["attempts"] == 1
    assert entry["lastError"] == "ValueError: cannot send there"
