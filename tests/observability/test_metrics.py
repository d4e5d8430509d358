"""`GET /metrics`: Prometheus text read back with the official parser, on both databases."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from sluice.api.app import create_app
from sluice.config import Settings
from sluice.domain.windows import Window
from sluice.observability.store_metrics import StoreCollector
from sluice.services.flows import flows
from sluice.store import clock, tenants
from sluice.store.db import make_engine, make_session_factory, transaction
from sluice.store.models import Flow, Run, Worker
from sluice.store.runs import NewRun, add_run

TABLE_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
FS = "/data/foundation/flowservice"

TOKEN = "metrics-token-for-tests"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(http: TestClient) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def make_flow(sessions: sessionmaker[Session], caller: Any, name: str) -> str:
    with transaction(sessions) as session:
        tenant = tenants.tenant_for(session, caller.org_id, caller.client_id, "prod")
        doc = {
            "flowSpec": {"id": TABLE_FLOW_SPEC, "version": "1.0"},
            "scheduleParams": {"startTime": 1_700_000_000, "frequency": "once"},
        }
        return flows.add(session, tenant, name, doc, flow_spec_id=TABLE_FLOW_SPEC).id


def make_run(sessions: sessionmaker[Session], flow_id: str, **values: Any) -> str:
    with transaction(sessions) as session:
        flow = session.get_one(Flow, flow_id)
        run = add_run(
            session,
            flow,
            NewRun(origin="onDemand", start_at=values.pop("start_at", 0), window=Window(0, 10)),
            actor="tests",
        )
        if values:
            session.execute(
                update(Run)
                .where(Run.id == run.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return run.id


def test_runs_records_bytes_and_durations_by_flow(
    settings: Settings, caller: Any, sessions: sessionmaker[Session]
) -> None:
    # Per-flow series only for a scraper holding the metrics token.
    app_client = TestClient(create_app(settings.model_copy(update={"metrics_token": TOKEN})),
                            headers={"Authorization": f"Bearer {TOKEN}"})
    orders = make_flow(sessions, caller, "orders")
    events = make_flow(sessions, caller, "events")
    for seconds, records, size in ((3, 100, 1000), (45, 50, 700)):
        make_run(
            sessions,
            orders,
            status="success",
            started_at=1_000_000,
            completed_at=1_000_000 + seconds * 1000,
            output_records=records,
            output_bytes=size,
        )
    make_run(
        sessions,
        orders,
        status="failed",
        started_at=0,
        completed_at=7_200_000,
        output_records=999,
        output_bytes=999,
    )
    make_run(sessions, events, status="inProgress", started_at=clock.now_ms())
    make_run(sessions, events, status="scheduled", start_at=2**40)  # not due for ages

    samples = scrape(app_client)
    assert value(samples, "sluice_runs", flow_id=orders, status="success") == 2
    assert value(samples, "sluice_runs", flow_id=orders, status="failed") == 1
    assert value(samples, "sluice_runs", flow_id=events, status="inProgress") == 1
    assert value(samples, "sluice_runs", flow_id=events, status="scheduled") == 1
    # Only successful runs ingest: the failed run's counts committed nothing.
    assert value(samples, "sluice_ingested_records_total", flow_id=orders) == 150
    assert value(samples, "sluice_ingested_bytes_total", flow_id=orders) == 1700
    assert value(samples, "sluice_ingested_records_total", flow_id=events) == 0

    success = {"flow_id": orders, "status": "success"}
    assert value(samples, "sluice_run_duration_seconds_bucket", le="1.0", **success) == 0
    assert value(samples, "sluice_run_duration_seconds_bucket", le="5.0", **success) == 1
    assert value(samples, "sluice_run_duration_seconds_bucket", le="60.0", **success) == 2
    assert value(samples, "sluice_run_duration_seconds_bucket", le="+Inf", **success) == 2
    assert value(samples, "sluice_run_duration_seconds_count", **success) == 2
    assert value(samples, "sluice_run_duration_seconds_sum", **success) == 48
    failed = {"flow_id": orders, "status": "failed"}
    assert value(samples, "sluice_run_duration_seconds_bucket", le="3600.0", **failed) == 0
    assert value(samples, "sluice_run_duration_seconds_bucket", le="7200.0", **failed) == 1
    # Runs that have not finished are not in the histogram.
    assert (
        "sluice_run_duration_seconds_count",
        (("flow_id", events), ("status", "inProgress")),
    ) not in samples

    (info,) = [
        dict(labels)
        for name, labels in samples
        if name == "sluice_flow_info" and dict(labels)["flow_id"] == orders
    ]
    assert info["flow_name"] == "orders" and info["state"] == "enabled"
    assert info["org_id"] == caller.org_id
    assert value(samples, "sluice_metadata_database_up") == 1


def test_queue_depth_and_the_oldest_due_run(
    app_client: TestClient, caller: Any, sessions: sessionmaker[Session]
) -> None:
    assert value(scrape(app_client), "sluice_queue_depth") == 0
    assert value(scrape(app_client), "sluice_queue_oldest_due_age_seconds") == 0
    flow = make_flow(sessions, caller, "queued")
    now_s = clock.now_ms() // 1000
    make_run(sessions, flow, start_at=now_s - 600)
    make_run(sessions, flow, start_at=now_s - 60)
    make_run(sessions, flow, start_at=now_s + 3600)  # not due yet
    make_run(sessions, flow, start_at=now_s - 900, cancel_requested=True)
    samples = scrape(app_client)
    assert value(samples, "sluice_queue_depth") == 2
    assert value(samples, "sluice_queue_oldest_due_age_seconds") >= 600


def test_worker_heartbeats(app_client: TestClient, sessions: sessionmaker[Session]) -> None:
    beat = clock.now_ms()
    with transaction(sessions) as session:
        session.add(
            Worker(
                id="host:1:a",
                hostname="host",
                pid=1,
                started_at=beat,
                heartbeat_at=beat,
                current_run_id=None,
            )
        )
        session.add(
            Worker(
                id="host:2:b",
                hostname="host",
                pid=2,
                started_at=beat,
                heartbeat_at=beat - 5000,
                current_run_id="some-run",
                queues="big,sluice",
                executor="celery",
            )
        )
    samples = scrape(app_client)
    assert value(samples, "sluice_workers") == 2
    assert value(samples, "sluice_workers_seen", executor="local", queue="") == 1
    assert value(samples, "sluice_workers_seen", executor="celery", queue="big") == 1
    assert value(samples, "sluice_workers_seen", executor="celery", queue="sluice") == 1
    assert value(samples, "sluice_runs_in_hand") == 1
    assert (
        value(
            samples,
            "sluice_worker_last_heartbeat_timestamp_seconds",
            worker_id="host:1:a",
            hostname="host",
        )
        == beat / 1000
    )
    assert value(samples, "sluice_worker_busy", worker_id="host:1:a") == 0
    assert value(samples, "sluice_worker_busy", worker_id="host:2:b") == 1


def test_request_latency_is_labelled_by_route_template(app_client: TestClient, caller: Any) -> None:
    missing = "8d5e3c1a-0000-4000-8000-000000000000"
    assert caller.get(f"{FS}/flows/{missing}").status_code == 404
    assert caller.get(f"{FS}/flows").status_code == 200
    assert caller.get(f"{FS}/flows/").status_code == 200  # the trailing-slash form
    assert app_client.get("/no/such/route/123").status_code == 404
    response = app_client.get("/metrics")
    assert missing not in response.text and "/no/such/route" not in response.text
    samples = scrape(app_client)
    count = "sluice_http_request_duration_seconds_count"
    assert (
        value(samples, count, method="GET", route=f"{FS}/flows/{{resource_id}}", status="404") == 1
    )
    assert value(samples, count, method="GET", route=f"{FS}/flows", status="200") == 2
    assert value(samples, count, method="GET", route="unmatched", status="404") == 1
    assert (
        value(
            samples,
            "sluice_http_request_duration_seconds_bucket",
            method="GET",
            route=f"{FS}/flows",
            status="200",
            le="+Inf",
        )
        == 2
    )


def test_metrics_need_no_credentials_and_can_be_turned_off(settings: Settings) -> None:
    with TestClient(create_app(settings)) as http:
        assert http.get("/metrics").status_code == 200
    off = settings.model_copy(update={"metrics_enabled": False})
    with TestClient(create_app(off), raise_server_exceptions=False) as http:
        response = http.get("/metrics")
        assert response.status_code == 404
        assert response.json()["type"].endswith("FLOW-1101-404")


def test_without_a_token_no_series_names_a_tenant(
    app_client: TestClient, caller: Any, sessions: sessionmaker[Session]
) -> None:
    flow_id = make_flow(sessions, caller, "payroll-of-org-a")
    make_run(sessions, flow_id, status="success", started_at=1_000, completed_at=4_000,
             output_records=7, output_bytes=70)
    response = app_client.get("/metrics")
    assert response.status_code == 200
    for tenant_value in (flow_id, "payroll-of-org-a", caller.org_id, "sandbox_id", "flow_id"):
        assert tenant_value not in response.text
    samples = scrape(app_client)
    assert value(samples, "sluice_runs", status="success") == 1
    assert value(samples, "sluice_ingested_records_total") == 7
    assert value(samples, "sluice_run_duration_seconds_count", status="success") == 1


def test_with_a_token_metrics_need_it(settings: Settings, caller: Any,
                                      sessions: sessionmaker[Session]) -> None:
    flow_id = make_flow(sessions, caller, "orders")
    guarded = settings.model_copy(update={"metrics_token": TOKEN})
    with TestClient(create_app(guarded)) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            refused = http.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert flow_id not in refused.text
        allowed = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        assert f'flow_id="{flow_id}"' in allowed.text and caller.org_id in allowed.text


def test_an_unreachable_database_reports_down_instead_of_failing() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    try:
        families = list(StoreCollector(make_session_factory(engine)).collect())
    finally:
        engine.dispose()
    assert [f.name for f in families] == ["sluice_metadata_database_up"]
    assert families[0].samples[0].value == 0
