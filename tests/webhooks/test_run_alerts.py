"""Silent failures are not successes (issue 13): a run's reconciliation, a missed
`minRowsPerRun`, a flow past `maxAgeWithoutSuccess` and a window still open each raise their
webhook event, metric and dashboard mark; a matched run raises none. Runs execute for real on
both metadata stores."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from receiver import Receiver
from sqlalchemy import select
from webhook_helpers import BASE, Caller, make_orders, start_run, subscribe, table_flow

from sluice.config import Settings
from sluice.connectors.sqlite import reader as sqlite_reader
from sluice.engine.engine_context import EngineContext
from sluice.engine.worker import Worker
from sluice.store import clock
from sluice.store.models import WebhookEvent
from sluice.webhooks.dispatcher import WebhookDispatcher
from sluice.webhooks.flow_alerts import record_overdue_flows
from support.api_runs import FS, run_all
from support.callers import error_code

ALERTS = ["flow_run_reconciliation_mismatch", "flow_expectation_failed"]
MINUTE = 60_000


def _run(caller: Caller, run_id: str) -> dict[str, Any]:
    return dict(caller.get(f"{FS}/runs/{run_id}").json()["items"][0])


def _events(engine: EngineContext) -> list[tuple[str, str | None, dict[str, Any]]]:
    with engine.sessions() as session:
        rows = session.execute(
            select(WebhookEvent.event_type, WebhookEvent.run_id, WebhookEvent.payload)
            .order_by(WebhookEvent.created_at)
        ).all()
    return [(kind, run_id, dict(payload)) for kind, run_id, payload in rows]


def _metric(caller: Caller, name: str) -> float:
    text = caller.get("/metrics").text
    values = [float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)]
    return sum(values)


def test_a_matched_run_records_its_reconciliation_and_raises_nothing(
    caller: Caller, settings: Settings, worker: Worker, engine: EngineContext, receiver: Receiver
) -> None:
    subscribe(caller, receiver.url, ALERTS)
    flow = table_flow(caller, make_orders(Path(settings.allowed_file_roots[0])))
    run_id = start_run(caller, flow, (2, 12))
    assert run_all(worker) == 1
    metrics = _run(caller, run_id)["metrics"]
    assert metrics["statusSummary"]["status"] == "success"
    assert metrics["reconciliation"] == {
        "sourceCount": 10, "landedCount": 10, "badRows": 0, "matched": True}
    assert "warnings" not in metrics
    # The reference's metric fields are unchanged beside the extension.
    assert set(metrics) == {"durationSummary", "sizeSummary", "recordSummary", "fileSummary",
                            "statusSummary", "reconciliation"}
    assert _events(engine) == []
    assert _metric(caller, "sluice_reconciliation_mismatched_runs_total") == 0


def test_a_mismatch_keeps_success_with_a_warning_an_event_a_metric_and_a_page_mark(
    caller: Caller, settings: Settings, worker: Worker, engine: EngineContext,
    receiver: Receiver, dispatcher: WebhookDispatcher, monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscribe(caller, receiver.url, ALERTS)
    flow = table_flow(caller, make_orders(Path(settings.allowed_file_roots[0])))
    run_id = start_run(caller, flow, (2, 12))
    # Fault injection: the source's count says two more rows than the read delivers (as when
    # a database without snapshots changed between the count and the read).
    counted = sqlite_reader._run

    def overcount(connection: Any, sql: str, parameters: Any, what: str) -> Any:
        found = counted(connection, sql, parameters, what)
        return (found[0] + 2,) if sql.startswith("SELECT count(*)") else found

    monkeypatch.setattr(sqlite_reader, "_run", overcount)
    assert run_all(worker) == 1
    metrics = _run(caller, run_id)["metrics"]
    assert metrics["statusSummary"]["status"] == "success"
    assert metrics["reconciliation"] == {
        "sourceCount": 12, "landedCount": 10, "badRows": 0, "matched": False}
    assert [w["code"] for w in metrics["warnings"]] == ["WARNING-1002"]
    assert "12 rows" in metrics["warnings"][0]["message"]
    [(kind, event_run, payload)] = _events(engine)
    assert (kind, event_run) == ("flow_run_reconciliation_mismatch", run_id)
    assert payload["data"]["reconciliation"]["matched"] is False
    assert dispatcher.run_once() == 1
    delivered = json.loads(receiver.requests[0].body)
    assert delivered["type"] == "flow_run_reconciliation_mismatch"
    assert _metric(caller, "sluice_reconciliation_mismatched_runs_total") == 1
    page = _dashboard_page(caller, f"/ui/runs/{run_id}")
    assert "Reconciliation" in page and "mismatch" in page
    assert "WARNING-1002" in page


def test_min_rows_per_run_raises_the_expectation_event_metric_and_badge(
    caller: Caller, settings: Settings, worker: Worker, engine: EngineContext,
    receiver: Receiver,
) -> None:
    subscribe(caller, receiver.url, ALERTS)
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow = table_flow(caller, db, expectations={"minRowsPerRun": 5})
    enough, too_few = start_run(caller, flow, (0, 5)), start_run(caller, flow, (5, 7))
    assert run_all(worker) == 2
    assert "warnings" not in _run(caller, enough)["metrics"]
    metrics = _run(caller, too_few)["metrics"]
    assert metrics["statusSummary"]["status"] == "success"
    assert [w["code"] for w in metrics["warnings"]] == ["WARNING-1003"]
    [(kind, event_run, payload)] = _events(engine)
    assert (kind, event_run) == ("flow_expectation_failed", too_few)
    assert payload["data"]["expectation"] == "minRowsPerRun"
    assert (payload["data"]["minRowsPerRun"], payload["data"]["landedCount"]) == (5, 2)
    assert _metric(caller, "sluice_expectation_failed_runs_total") == 1
    assert "expectation failed" in _dashboard_page(caller, "/ui/flows")


def test_a_flow_without_success_for_too_long_is_reported_once_per_dry_spell(
    caller: Caller, settings: Settings, worker: Worker, engine: EngineContext,
    receiver: Receiver,
) -> None:
    subscribe(caller, receiver.url, ALERTS)
    db = make_orders(Path(settings.allowed_file_roots[0]))
    age = {"maxAgeWithoutSuccess": {"value": 10, "unit": "minute"}}
    watched = table_flow(caller, db, name="watched", expectations=age)
    table_flow(caller, db, name="unwatched")  # default: off
    now = clock.now_ms()
    assert record_overdue_flows(engine.sessions, now_ms=now + 9 * MINUTE) == 0
    assert record_overdue_flows(engine.sessions, now_ms=now + 11 * MINUTE) == 1
    assert record_overdue_flows(engine.sessions, now_ms=now + 12 * MINUTE) == 0  # once
    [(kind, event_run, payload)] = _events(engine)
    assert (kind, event_run) == ("flow_expectation_failed", None)
    assert payload["data"]["flowId"] == watched
    assert payload["data"]["expectation"] == "maxAgeWithoutSuccess"
    assert payload["data"]["maxAgeWithoutSuccessSeconds"] == 600
    # A success starts a new spell: reported again only when it, too, runs out.
    start_run(caller, watched, (0, 3))
    assert run_all(worker) == 1
    later = clock.now_ms()
    assert record_overdue_flows(engine.sessions, now_ms=later + 9 * MINUTE) == 0
    assert record_overdue_flows(engine.sessions, now_ms=later + 11 * MINUTE) == 1


def test_a_window_ending_in_the_future_is_read_with_a_warning(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    flow = table_flow(caller, make_orders(Path(settings.allowed_file_roots[0])))
    future = datetime.now(UTC) + timedelta(days=1)
    hours = int((future - BASE).total_seconds() // 3600)
    run_id = start_run(caller, flow, (20, hours))
    run_all(worker)
    metrics = _run(caller, run_id)["metrics"]
    assert metrics["statusSummary"]["status"] == "success"
    assert [w["code"] for w in metrics["warnings"]] == ["WARNING-1001"]
    assert metrics["reconciliation"]["matched"] is True


def test_bad_expectations_are_a_coded_400_and_create_no_flow(
    caller: Caller, settings: Settings
) -> None:
    flow = table_flow(caller, make_orders(Path(settings.allowed_file_roots[0])))
    valid = caller.get(f"{FS}/flows/{flow}").json()["items"][0]
    body = {key: valid[key] for key in (
        "flowSpec", "sourceConnectionIds", "targetConnectionIds", "scheduleParams")}
    for expectations in (
        {"maxAgeWithoutSuccess": {"value": 2}},
        {"maxAgeWithoutSuccess": {"value": 2, "unit": "fortnight"}},
        {"maxAgeWithoutSuccess": {"value": 0, "unit": "hour"}},
        {"maxAgeWithoutSuccess": 7200},
        {"minRowsPerRun": 0},
        {"minRowsPerRun": "5"},
        {"minRows": 5},
    ):
        response = caller.post(f"{FS}/flows", json={
            **body, "name": "bad", "options": {"expectations": expectations}})
        assert response.status_code == 400, (expectations, response.text)
        assert error_code(response) == "FLOW-1000-400"
        assert "expectations" in response.json()["report"]["detailed-message"]
    assert caller.get(f"{FS}/flows?count=true").json()["count"] == 1


def _dashboard_page(caller: Caller, path: str) -> str:
    """`path` as a logged-in browser sees it (the login form's CSRF token, then the page)."""
    form = caller.http.get("/ui/login").text
    token = re.search(r'name="csrf_token" value="([^"]*)"', form)
    assert token is not None
    response = caller.http.post(
        "/ui/login",
        data={"csrf_token": token.group(1), "client_id": caller.client_id,
              "client_secret": caller.client_secret, "next": path},
        headers={"Origin": "http://testserver"},
    )
    assert response.status_code == 200, response.text
    return str(response.text)
