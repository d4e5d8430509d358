"""SluiceClient against the real app (in-process), and its parsing of both error shapes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sluice.api.app import create_app
from sluice.bootstrap import ensure_default_tenant
from sluice.client import (
    Created,
    Credentials,
    SluiceApiError,
    SluiceClient,
    run_status,
    wait_for_run,
)
from sluice.config import Settings
from sluice.store.db import make_engine, make_session_factory

DATASETS = "/data/foundation/catalog/dataSets"
SQLITE_SPEC = "40a2e097-51aa-4ded-91a4-482c06367e24"


@dataclass
class Server:
    http: TestClient
    credentials: Credentials
    settings: Settings
    paths: list[str]

    def client(self, **overrides: str) -> SluiceClient:
        c = self.credentials
        values = {"org_id": c.org_id, "client_id": c.client_id,
                  "client_secret": c.client_secret, **overrides}
        return SluiceClient("http://testserver", values["org_id"], values["client_id"],
                            values["client_secret"], http=self.http)

    def count(self, method_and_path: str) -> int:
        return sum(1 for p in self.paths if p.startswith(method_and_path))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    engine = make_engine(settings.resolved_database_url)
    credentials = ensure_default_tenant(settings, make_session_factory(engine))
    engine.dispose()
    paths: list[str] = []

    def record(request: httpx.Request) -> None:
        paths.append(f"{request.method} {request.url.path}")

    with TestClient(app) as http:
        http.event_hooks = {"request": [record], "response": []}
        yield Server(http, credentials, settings, paths)


def test_gets_a_token_once_and_sends_the_tenant_headers(server: Server) -> None:
    client = server.client()
    spec = client.get_item(f"connectionSpecs/{SQLITE_SPEC}")
    assert spec["name"] == "SQLite"
    names = [s["name"] for s in client.iter_list("connectionSpecs")]
    assert "SQLite" in names
    assert server.count("POST /ims/token/v3") == 1


def test_create_patch_delete_round_trip(server: Server) -> None:
    client = server.client()
    created = Created.from_body(client.post(DATASETS, {"name": "orders"}))
    path = f"{DATASETS}/{created.id}"
    first = client.get_item(path)
    assert (first["id"], first["name"]) == (created.id, "orders")
    patched = client.patch(path, [{"op": "replace", "path": "/name", "value": "orders v2"}],
                           if_match=first["etag"])
    assert patched == [f"@/dataSets/{created.id}"]
    assert client.get_item(path)["name"] == "orders v2"
    with pytest.raises(SluiceApiError) as stale:
        client.patch(path, [{"op": "replace", "path": "/name", "value": "x"}],
                     if_match=first["etag"])
    assert stale.value.code == "FLOW-1404-412"
    client.delete(path)
    with pytest.raises(SluiceApiError) as gone:
        client.get_item(path)
    assert (gone.value.status, gone.value.code) == (404, "FLOW-1439-404")
    assert gone.value.request_id


def test_iter_list_follows_next_links_with_filters(server: Server) -> None:
    client = server.client()
    for n in range(5):
        client.post(DATASETS, {"name": f"ds {n}"})
    before = server.count(f"GET {DATASETS}")
    names = [d["name"] for d in client.iter_list(DATASETS, limit=2, orderby="name")]
    assert names == [f"ds {n}" for n in range(5)]
    assert server.count(f"GET {DATASETS}") - before == 3
    only = list(client.iter_list(DATASETS, property=['name=="ds 3"']))
    assert [d["name"] for d in only] == ["ds 3"]


def test_refreshes_an_expiring_token_before_use(server: Server) -> None:
    client = server.client()
    client.get("connectionSpecs")
    client._token_deadline = 0.0  # as if the token were about to expire
    client.get("connectionSpecs")
    assert server.count("POST /ims/token/v3") == 2


def test_a_rejected_token_is_replaced_once(server: Server) -> None:
    client = server.client()
    client.get("connectionSpecs")
    client._token = "not-a-valid-token"
    client.get("connectionSpecs")
    assert server.count("POST /ims/token/v3") == 2


def test_wrong_secret_is_a_token_error(server: Server) -> None:
    with pytest.raises(SluiceApiError) as error:
        server.client(client_secret="wrong").get("connectionSpecs")
    assert error.value.status == 401
    assert error.value.code == "invalid_client"


def test_gateway_errors_keep_their_code(server: Server) -> None:
    with pytest.raises(SluiceApiError) as error:
        server.client(org_id="SOMEONE@SluiceOrg").get("flows")
    assert (error.value.status, error.value.code) == (403, "403025")
    assert error.value.message == "Profile is not valid"


def test_from_credentials_file(server: Server) -> None:
    client = SluiceClient.from_credentials_file(server.settings.credentials_path,
                                                "http://testserver", http=server.http)
    assert client.client_id == server.credentials.client_id
    assert client.get_item(f"connectionSpecs/{SQLITE_SPEC}")["id"] == SQLITE_SPEC


def test_credentials_file_must_hold_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text('{"orgId": "o", "clientId": "c"}')
    with pytest.raises(ValueError, match="clientSecret"):
        Credentials.read(path)


def response(status: int, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "http://x/"), **kwargs)


def test_problem_document_is_parsed() -> None:
    error = SluiceApiError.from_response(response(400, json={
        "type": "https://ns.adobe.com/aep/errors/FLOW-1381-400", "title": "Bad request",
        "status": 400, "report": {"detailed-message": "WindowEndTime=1 cannot be before",
                                  "request-id": "req-1"}}))
    assert (error.status, error.code, error.request_id) == (400, "FLOW-1381-400", "req-1")
    assert error.message == "WindowEndTime=1 cannot be before"


def test_gateway_and_plain_errors_are_parsed() -> None:
    gateway = SluiceApiError.from_response(response(
        403, json={"error_code": "403010", "message": "Oauth token is missing."},
        headers={"x-request-id": "r2"}))
    assert (gateway.code, gateway.message, gateway.request_id) == (
        "403010", "Oauth token is missing.", "r2")
    plain = SluiceApiError.from_response(response(502, text="Bad Gateway"))
    assert (plain.code, plain.message) == ("HTTP-502", "Bad Gateway")


# -- typed resource methods --------------------------------------------------------------

FILES_FLOW_NAME = "Demo events (CSV)"


def test_the_package_keeps_its_public_names() -> None:
    import sluice.client as package

    for name in ("SluiceClient", "SluiceApiError", "wait_for_run", "Credentials", "run_status",
                 "CATALOG_PATH", "FLOW_SERVICE_PATH", "SANDBOXES_PATH", "TOKEN_PATH", "Created"):
        assert hasattr(package, name), name


def test_datasets_create_read_update_count_delete(server: Server) -> None:
    datasets = server.client().datasets
    created = datasets.create({"name": "typed"})
    assert created.id and created.etag.startswith('"')
    assert datasets.get(created.id)["name"] == "typed"
    updated = datasets.update(created.id, [{"op": "replace", "path": "/name", "value": "v2"}])
    assert updated.id == created.id and updated.etag != created.etag
    with pytest.raises(SluiceApiError) as stale:
        datasets.update(created.id, [{"op": "replace", "path": "/name", "value": "x"}],
                        etag=created.etag)
    assert stale.value.code == "FLOW-1404-412"
    assert datasets.count(property=['name=="v2"']) == 1
    assert [d["name"] for d in datasets.list(property=['name=="v2"'])] == ["v2"]
    preview = datasets.preview(created.id, limit=5)
    assert preview["dataSetId"] == created.id and preview["rows"] == []
    datasets.delete(created.id)
    assert datasets.count() == 0


def test_iter_pages_lazily_and_list_stops_at_the_limit(server: Server) -> None:
    client = server.client()
    for n in range(5):
        client.datasets.create({"name": f"ds {n}"})
    before = server.count(f"GET {DATASETS}")
    pages = client.datasets.iter(orderby="name", page_size=2)
    assert [next(pages)["name"], next(pages)["name"]] == ["ds 0", "ds 1"]
    assert server.count(f"GET {DATASETS}") - before == 1  # the second page is not fetched yet
    assert [d["name"] for d in pages] == ["ds 2", "ds 3", "ds 4"]
    assert [d["name"] for d in client.datasets.list(orderby="-name", limit=3)] == [
        "ds 4", "ds 3", "ds 2"]


def test_specs_sandboxes_and_connections(server: Server, tmp_path: Path) -> None:
    client = server.client()
    assert client.connection_specs.get(SQLITE_SPEC)["name"] == "SQLite"
    assert len(client.flow_specs.list()) == 2
    assert [s["name"] for s in client.sandboxes.list()] == ["prod"]
    assert client.sandboxes.create("dev-1")["name"] == "dev-1"
    assert client.sandboxes.get("dev-1")["type"] == "development"
    files = server.settings.allowed_file_roots[0]
    files.mkdir(parents=True, exist_ok=True)
    # The table must exist: a source connection naming a missing one is refused (1493).
    with sqlite3.connect(files / "x.db") as db:
        db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER)")
    connection = client.connections.create({
        "name": "db", "connectionSpec": {"id": SQLITE_SPEC},
        "auth": {"specName": "File Path Authentication", "params": {"path": str(files / "x.db")}}})
    assert client.connections.test(connection.id) == {"result": True}
    source = client.source_connections.create({
        "name": "t", "baseConnectionId": connection.id, "data": {"format": "tabular"},
        "params": {"tableName": "t"}, "connectionSpec": {"id": SQLITE_SPEC}})
    assert client.source_connections.get(source.id)["baseConnectionId"] == connection.id
    assert client.target_connections.list() == []


def _files_flow(client: SluiceClient, server: Server) -> str:
    from sluice.demo import setup_demo

    return setup_demo(client, server.settings).flow_ids[FILES_FLOW_NAME]


def test_flows_enable_disable_and_runs_create_cancel_retrigger(server: Server) -> None:
    client = server.client()
    flow_id = _files_flow(client, server)
    disabled = client.flows.disable(flow_id)
    assert client.flows.get(flow_id)["state"] == "disabled"
    with pytest.raises(SluiceApiError) as refused:
        client.runs.create(flow_id, window_start=0, window_end=10)
    assert refused.value.code == "FLOW-1444-400"
    enabled = client.flows.enable(flow_id, etag=disabled.etag)
    assert enabled.etag != disabled.etag and client.flows.get(flow_id)["state"] == "enabled"

    run = client.runs.create(flow_id, window_start=0, window_end=10, start_time=2_000_000_000,
                             idempotency_key="client-retry-1")
    again = client.runs.create(flow_id, window_start=0, window_end=10,
                               start_time=2_000_000_000, idempotency_key="client-retry-1")
    assert again.id == run.id
    assert client.runs.get(run.id)["flowId"] == flow_id
    assert [r["id"] for r in client.runs.for_flow(flow_id)] == [run.id]
    assert list(client.runs.for_flow(flow_id, status="failed")) == []
    assert client.runs.bad_rows(run.id) == []
    client.runs.cancel(run.id)
    assert run_status(client.runs.get(run.id)) == "cancelled"
    with pytest.raises(SluiceApiError) as not_failed:
        client.runs.retrigger(run.id)
    assert not_failed.value.code == "FLOW-1387-400"


def test_wait_for_run_reports_progress_until_the_end(server: Server) -> None:
    from sluice.engine.engine_context import engine_context
    from sluice.engine.runner import execute_run
    from sluice.engine.worker import Worker

    client = server.client()
    flow_id = _files_flow(client, server)
    run = client.runs.create(flow_id, window_start=0, window_end=4_000_000_000)
    ctx = engine_context(server.settings)
    worker = Worker(ctx.sessions, lambda _claim, guard: execute_run(ctx, guard))
    seen: list[str] = []

    def progress(version: dict[str, object]) -> None:
        seen.append(run_status(version))
        if len(seen) == 1:
            assert worker.run_once()  # the run moves between two polls

    finished = client.wait_for_run(run.id, on_progress=progress, poll_seconds=0.01)
    assert seen == ["scheduled", "success"]
    assert finished["metrics"]["recordSummary"]["outputRecordCount"] > 0
    assert wait_for_run(client, run.id)["id"] == run.id  # the function form still works
    assert client.runs.wait(run.id)["id"] == run.id


def test_webhooks_are_typed_too(server: Server) -> None:
    webhooks = server.client().webhooks
    created = webhooks.create(name="ops", url="https://hooks.example.com/x",
                              events=["flow_run_failed"], secret="s" * 20)
    item = webhooks.get(created.id)
    assert item["events"] == ["flow_run_failed"] and "secret" not in item
    assert list(webhooks.deliveries(created.id)) == []
    webhooks.update(created.id, [{"op": "replace", "path": "/enabled", "value": False}])
    assert webhooks.get(created.id)["enabled"] is False
    webhooks.delete(created.id)
    assert webhooks.list() == []


def test_links_and_catalog_orders_are_read_the_way_servers_write_them() -> None:
    from sluice.client.transport import catalog_order, follow_href

    assert follow_href("/connections?continuationToken=abc", "connections") == (
        "/data/foundation/flowservice/connections?continuationToken=abc")
    assert follow_href("/mappingSets?continuationToken=x",
                       "/data/foundation/conversion/mappingSets") == (
        "/data/foundation/conversion/mappingSets?continuationToken=x")
    assert follow_href("/data/foundation/catalog/dataSets/1", "targetConnections") == (
        "/data/foundation/catalog/dataSets/1")
    assert catalog_order("-createdAt") == "desc:created"
    assert catalog_order("name,desc:updated") == "name,desc:updated"
    assert catalog_order("+name") == "asc:name"
