"""Dashboard pages: flows, a flow's runs, a run's detail, datasets, connections, live data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from ui_support import (
    BASE,
    FS,
    events_flow,
    failed_run,
    login,
    orders_flow,
    post_form,
    rename_orders_table,
    start_api_run,
    utc_input,
)

from sluice.config import Settings
from sluice.engine.claims import Claim, ClaimGuard
from sluice.engine.engine_context import engine_context
from sluice.engine.worker import Worker
from sluice.store import tenants
from support.api_runs import CATALOG, created_id, make_worker, run_all
from support.callers import Caller
from support.metadata_db import metadata_transaction

XSS = "<script>alert(1)</script>"


def test_flows_page_shows_state_schedule_last_run_and_success_rate(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    worker = make_worker(settings)
    for hours in (0, 12):
        start_api_run(caller, built.flow_id, BASE + timedelta(hours=hours),
                      BASE + timedelta(hours=hours + 12))
    assert run_all(worker) == 2
    rename_orders_table(built, "orders", "hidden")
    failed = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=3))
    run_all(worker)
    login(app_client, caller)
    page = app_client.get("/ui/flows")
    assert page.status_code == 200
    row = page.text.split(f'href="/ui/flows/{built.flow_id}"', 1)[1].split("</tr>", 1)[0]
    assert "orders flow" in row and "enabled" in row
    assert "once, at" in row
    assert f'href="/ui/runs/{failed}"' in row and 'data-status="failed"' in row
    assert "67 %" in row and "2 of 3" in row


def test_flow_page_lists_runs_with_metrics_a_chart_and_filters(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    first = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=10))
    run_all(make_worker(settings))
    scheduled = start_api_run(caller, built.flow_id, BASE + timedelta(hours=10),
                              BASE + timedelta(hours=20))
    login(app_client, caller)
    page = app_client.get(f"/ui/flows/{built.flow_id}")
    assert page.status_code == 200
    assert 'data-live="/ui/live/flows/' in page.text
    row = page.text.split(f'id="run-{first}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-status="success"' in row
    assert "2024-05-01 00:00 → 2024-05-01 10:00" in row
    assert ">10<" in row  # records in and out
    assert "<svg" in page.text and 'class="bar bar-success"' in page.text
    assert "updated_at" in page.text  # the delta column the first run wrote into the flow
    only_scheduled = app_client.get(f"/ui/flows/{built.flow_id}?status=scheduled")
    assert f'id="run-{scheduled}"' in only_scheduled.text
    assert f'id="run-{first}"' not in only_scheduled.text
    later = utc_input(BASE.replace(year=2100))
    none_yet = app_client.get(f"/ui/flows/{built.flow_id}?from={later}")
    assert "No runs match these filters" in none_yet.text


def test_live_endpoints_answer_statuses_and_the_fragment_the_page_shows(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    run_id = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=10))
    login(app_client, caller)
    before = app_client.get(f"/ui/live/flows/{built.flow_id}/runs").json()
    assert before["runs"] == [{"id": run_id, "status": "scheduled"}]
    assert app_client.get(f"/ui/live/runs/{run_id}").json()["terminal"] is False
    run_all(make_worker(settings))
    after = app_client.get(f"/ui/live/flows/{built.flow_id}/runs").json()
    assert after["runs"] == [{"id": run_id, "status": "success"}]
    assert 'data-status="success"' in after["html"]
    live_run = app_client.get(f"/ui/live/runs/{run_id}")
    assert live_run.headers["cache-control"] == "no-store"
    assert live_run.json()["status"] == "success" and live_run.json()["terminal"] is True
    assert "Delta Promotion Activity" in live_run.json()["html"]
    assert "orders flow" in app_client.get("/ui/live/flows").json()["html"]


def test_run_page_shows_activities_the_delta_version_errors_and_quarantined_rows(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = events_flow(caller, settings, [["1", "click", "1.50"], ["2", "view", "oops"]])
    run_id = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(days=1), delta=None)
    run_all(make_worker(settings))
    login(app_client, caller)
    page = app_client.get(f"/ui/runs/{run_id}")
    assert page.status_code == 200
    text = page.text
    assert 'data-status="success"' in text
    assert "Copy Activity" in text and "Delta Promotion Activity" in text
    assert f'href="/ui/datasets/{built.dataset_id}"' in text
    assert 'class="delta-version">0' in text
    assert "INGEST-1212-400" in text  # the partial-ingestion error, with its code
    assert "Quarantined rows" in text and "oops" in text and "a.csv" in text
    assert "amount" in text.split("Quarantined rows", 1)[1]


def test_failed_run_shows_its_coded_error(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    run_id = failed_run(caller, settings, built, BASE + timedelta(hours=3))
    login(app_client, caller)
    text = app_client.get(f"/ui/runs/{run_id}").text
    assert 'data-status="failed"' in text
    assert "CONNECTOR-" in text and "none written" in text
    assert "Re-trigger" in text


def test_datasets_page_shows_schema_row_count_and_a_preview(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=5))
    run_all(make_worker(settings))
    empty = created_id(caller.post(f"{CATALOG}/dataSets", json={
        "name": "declared only", "schema": {"fields": [{"name": "sku", "type": "string"}]}}))
    login(app_client, caller)
    listing = app_client.get("/ui/datasets").text
    row = listing.split(f'href="/ui/datasets/{built.dataset_id}"', 1)[1].split("</tr>", 1)[0]
    assert ">5<" in row  # rows
    assert "no data written yet" in listing.split(f'/ui/datasets/{empty}"', 1)[1]
    detail = app_client.get(f"/ui/datasets/{built.dataset_id}").text
    for column in ("id", "customer", "amount", "updated_at", "_sluice_run_id"):
        assert f"<code>{column}</code>" in detail
    assert "c4" in detail and "4.25" in detail  # preview rows
    declared = app_client.get(f"/ui/datasets/{empty}").text
    assert "<code>sku</code>" in declared


def test_connections_page_masks_secrets(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    secret = "Hunter2-never-shown"
    created_id(caller.post(f"{FS}/connections", json={
        "name": "warehouse", "connectionSpec": {"id": "1bed8a75-0487-4216-85f5-94ddf2058992"},
        "auth": {"specName": "Basic Authentication", "params": {
            "host": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres",
            "password": secret}}}))
    login(app_client, caller)
    page = app_client.get("/ui/connections")
    assert page.status_code == 200
    assert "warehouse" in page.text and "PostgreSQL" in page.text
    assert "********" in page.text and "postgres" in page.text
    assert secret not in page.text


def test_another_tenants_resources_are_not_found(
    app_client: TestClient, caller: Caller, other_caller: Caller, settings: Settings
) -> None:
    theirs = orders_flow(other_caller, settings, name="their flow")
    their_run = start_api_run(other_caller, theirs.flow_id, BASE, BASE + timedelta(hours=5))
    csrf = login(app_client, caller)
    for path in (f"/ui/flows/{theirs.flow_id}", f"/ui/runs/{their_run}",
                 f"/ui/datasets/{theirs.dataset_id}"):
        response = app_client.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text and "their flow" not in response.text
    for path in (f"/ui/live/flows/{theirs.flow_id}/runs", f"/ui/live/runs/{their_run}"):
        assert app_client.get(path).status_code == 404
    assert "their flow" not in app_client.get("/ui/flows").text
    for path, fields in (
        (f"/ui/flows/{theirs.flow_id}/runs", {"window_start": utc_input(BASE),
                                               "window_end": utc_input(BASE)}),
        (f"/ui/flows/{theirs.flow_id}/state", {"op": "disable"}),
        (f"/ui/runs/{their_run}/cancel", {}),
        (f"/ui/runs/{their_run}/retrigger", {}),
    ):
        assert post_form(app_client, path, csrf, **fields).status_code == 404, path
    runs = other_caller.get(f"{FS}/runs?property=flowId=={theirs.flow_id}").json()["items"]
    assert [(r["id"], r["metrics"]["statusSummary"]["status"]) for r in runs] == [
        (their_run, "scheduled")]
    assert other_caller.get(f"{FS}/flows/{theirs.flow_id}").json()["items"][0]["state"] == (
        "enabled")


def test_names_are_escaped_everywhere(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings, name=XSS, dataset_name=XSS)
    run_id = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=2))
    login(app_client, caller)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/ui/flows", f"/ui/flows/{built.flow_id}", f"/ui/runs/{run_id}",
                 "/ui/datasets", f"/ui/datasets/{built.dataset_id}", "/ui/connections"):
        text = app_client.get(path).text
        assert XSS not in text, path
        assert escaped in text, path
    assert escaped in app_client.get("/ui/live/flows").json()["html"]
    for path in ("/ui/live/flows", f"/ui/live/flows/{built.flow_id}/runs",
                 f"/ui/live/runs/{run_id}"):
        assert XSS not in app_client.get(path).text, path


def test_sandbox_switcher_changes_what_the_pages_show(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    orders_flow(caller, settings, name="prod flow")
    with metadata_transaction(settings) as session:
        tenants.create_sandbox(session, caller.org_id, "dev")
    orders_flow(caller.in_sandbox("dev"), settings, name="dev flow")
    csrf = login(app_client, caller)
    assert "prod flow" in app_client.get("/ui/flows").text
    assert post_form(app_client, "/ui/sandbox", csrf, sandbox="dev").status_code == 303
    page = app_client.get("/ui/flows").text
    assert "dev flow" in page and "prod flow" not in page
    assert '<option value="dev" selected>' in page
    # A sandbox of no one's (or another org's) is ignored: the choice stays.
    post_form(app_client, "/ui/sandbox", csrf, sandbox="nope")
    assert "dev flow" in app_client.get("/ui/flows").text


def test_workers_page_shows_each_worker_its_queues_and_only_the_viewers_run_in_hand(
    app_client: TestClient, caller: Caller, other_caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    run_id = start_api_run(caller, built.flow_id, BASE, BASE + timedelta(hours=5))
    ctx = engine_context(settings)
    idle = Worker(ctx.sessions, lambda *_: None, worker_id="celery-host:7:cafe:0",
                  queues=("big", "sluice"), executor="celery")
    idle.record_idle()
    seen: dict[str, Any] = {}
    login(app_client, caller)
    other_http = TestClient(app_client.app)  # a second browser, for the other tenant
    login(other_http, other_caller)

    def look(_claim: Claim, _guard: ClaimGuard) -> None:
        # While the run is in hand: as its tenant, then as another tenant.
        seen["own"] = app_client.get("/ui/workers").text
        seen["live"] = app_client.get("/ui/live/workers").json()
        seen["other"] = other_http.get("/ui/workers").text

    busy = Worker(ctx.sessions, look, worker_id="local-host:8:beef:0")
    assert busy.run_ready(run_id)
    own_row = seen["own"].split('data-worker="local-host:8:beef:0"', 1)[1].split("</tr>", 1)[0]
    assert f'href="/ui/runs/{run_id}"' in own_row and "local" in own_row
    idle_row = seen["own"].split('data-worker="celery-host:7:cafe:0"', 1)[1].split("</tr>")[0]
    assert "<code>big</code>, <code>sluice</code>" in idle_row and "idle" in idle_row
    assert "celery" in idle_row
    assert {w["id"]: w["busy"] for w in seen["live"]["workers"]} == {
        "celery-host:7:cafe:0": False, "local-host:8:beef:0": True}
    # Another tenant sees that the slot is busy, never whose run it is.
    assert run_id not in seen["other"]
    assert "busy (another sandbox" in seen["other"]
    # Once the run is out of hand the slot reads idle; a graceful stop removes it.
    busy.deregister()
    page = app_client.get("/ui/workers").text
    assert "local-host:8:beef:0" not in page and "celery-host:7:cafe:0" in page
