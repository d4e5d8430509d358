"""Authoring in the dashboard, over HTTP on both metadata stores: connections from a spec's
schema (secrets never shown), explore and preview, the flow wizard's review and create, and
the flow editor's JSON Patch with If-Match. Bad input shows the API's coded error and
creates nothing. (The browser test drives the same pages in Chromium.)"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from ui_support import FS, login, make_orders, orders_flow, post_form

from sluice.config import Settings
from support.api_runs import CATALOG, SQLITE_SPEC
from support.callers import Caller

REST_SPEC = "d7f819ca-df9f-4b5f-be66-74c44667cb69"
SECRET = "key-that-must-never-show-9f3a"


def epoch(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())  # type: ignore[misc]


def etag_in(page: str) -> str:
    match = re.search(r'name="etag" value="([^"]*)"', page)
    assert match, "no etag in the form"
    return html.unescape(match.group(1))


def count(caller: Caller, collection: str) -> int:
    return len(caller.get(f"{FS}/{collection}").json()["items"])


def new_sqlite_connection(http: TestClient, csrf: str, db: Path, name: str = "shop db") -> str:
    response = post_form(http, "/ui/connections", csrf, spec=SQLITE_SPEC,
                         auth="File Path Authentication", name=name, **{"param.path": str(db)})
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/ui/connections/", 1)[1].split("?", 1)[0]


def test_a_connection_from_the_spec_form_keeps_its_secret_hidden_through_test_and_edit(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    csrf = login(app_client, caller)
    form = app_client.get(f"/ui/connections/new?spec={REST_SPEC}&auth=API Key Authentication")
    assert 'type="password" name="param.apiKey"' in form.text
    assert 'name="param.headerName" value="X-API-Key"' in form.text  # the schema's default
    fields = {"spec": REST_SPEC, "auth": "API Key Authentication", "name": "orders api",
              "param.baseUrl": "http://127.0.0.1:9/v1", "param.apiKey": SECRET}
    # A required field left empty: the service's schema check answers, nothing is stored.
    refused = post_form(app_client, "/ui/connections", csrf, **{**fields, "param.baseUrl": ""})
    assert refused.status_code == 400 and "FLOW-1000-400" in refused.text
    assert "baseUrl" in refused.text and SECRET not in refused.text
    unknown = post_form(app_client, "/ui/connections", csrf, **{**fields, "spec": "nope"})
    assert unknown.status_code == 400 and re.search(r"FLOW-\d+-400", unknown.text)
    assert count(caller, "connections") == 0
    created = post_form(app_client, "/ui/connections", csrf, **fields)
    assert created.status_code == 303
    detail_path = created.headers["location"].split("?", 1)[0]
    connection_id = detail_path.rsplit("/", 1)[1]
    detail = app_client.get(created.headers["location"]).text
    assert "Connection created." in detail and "********" in detail and SECRET not in detail
    # Nothing listens on port 9: the test fails with the connector's code.
    tested = post_form(app_client, f"{detail_path}/test", csrf)
    assert tested.status_code == 200 and "Test failed." in tested.text
    assert re.search(r'class="code">CONNECTOR-\d+-\d+<', tested.text), tested.text
    # Edit without retyping the secret: it is kept (the API still masks a stored value).
    edit = app_client.get(f"{detail_path}/edit").text
    assert SECRET not in edit and 'name="param.apiKey"' in edit
    etag = etag_in(edit)
    saved = post_form(app_client, f"{detail_path}/edit", csrf, etag=etag, name="orders api v2",
                      **{"param.baseUrl": "http://127.0.0.1:9/v2", "param.headerName": "X-Key"})
    assert saved.status_code == 303, saved.text
    item = caller.get(f"{FS}/connections/{connection_id}").json()["items"][0]
    assert item["name"] == "orders api v2"
    assert item["auth"]["params"]["apiKey"] == "********"
    assert item["auth"]["params"]["baseUrl"] == "http://127.0.0.1:9/v2"
    # The same etag again is a lost update: 412 shown, the form reloaded from the store.
    stale = post_form(app_client, f"{detail_path}/edit", csrf, etag=etag, name="lost",
                      **{"param.baseUrl": "http://127.0.0.1:9/v3"})
    assert stale.status_code == 412 and "FLOW-" in stale.text and "-412" in stale.text
    assert 'value="orders api v2"' in stale.text
    assert caller.get(f"{FS}/connections/{connection_id}").json()["items"][0]["name"] == (
        "orders api v2")
    deleted = post_form(app_client, f"{detail_path}/delete", csrf)
    assert deleted.status_code == 303 and count(caller, "connections") == 0


def test_explore_lists_and_previews_and_a_used_connection_cannot_be_deleted(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    csrf = login(app_client, caller)
    connection_id = new_sqlite_connection(
        app_client, csrf, make_orders(Path(settings.allowed_file_roots[0]), count=5))
    listing = app_client.get(f"/ui/connections/{connection_id}/explore")
    assert listing.status_code == 200
    assert "?type=table&amp;object=orders" in listing.text
    preview = app_client.get(f"/ui/connections/{connection_id}/explore?type=table&object=orders")
    assert "updated_at" in preview.text and "timestamp" in preview.text
    assert preview.text.count("<tr>") == 1 + 5  # the header and five rows
    start = f"/ui/flows/new?connection={connection_id}&amp;object=orders"
    assert start in preview.text
    missing = app_client.get(f"/ui/connections/{connection_id}/explore?type=table&object=nope")
    assert missing.status_code == 400 and "CONNECTOR-1002-400" in missing.text
    # A flow reads from it: deleting shows the in-use error and deletes nothing.
    built = orders_flow(caller, settings)
    base_id = caller.get(f"{FS}/sourceConnections").json()["items"][0]["baseConnectionId"]
    refused = post_form(app_client, f"/ui/connections/{base_id}/delete", csrf)
    assert refused.status_code == 400 and "FLOW-1418-400" in refused.text
    assert "orders flow" in refused.text  # "used by" names the flow
    assert caller.get(f"{FS}/flows/{built.flow_id}").status_code == 200
    assert count(caller, "connections") == 2


def wizard_fields(connection_id: str, **changes: str) -> dict[str, str]:
    fields = {"connection": connection_id, "kind": "table", "table": "orders",
              "dataset_mode": "new", "dataset_name": "orders lake", "write_mode": "merge",
              "primary_key": "id", "schema_evolution": "addColumns",
              "delta_column": "updated_at", "error_diagnostics": "on", "partial_percent": "5",
              "frequency": "hour", "interval": "2", "backfill": "on",
              "start_at": "2099-01-01 10:00", "name": "hourly orders"}
    return {**fields, **changes}


def test_the_wizard_reviews_the_exact_bodies_and_creates_the_flow_or_nothing(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    csrf = login(app_client, caller)
    connection_id = new_sqlite_connection(
        app_client, csrf, make_orders(Path(settings.allowed_file_roots[0]), count=5))
    page = app_client.get(f"/ui/flows/new?connection={connection_id}&object=orders").text
    # The reflected columns, with their types, to pick the delta column from.
    option = r'<option value="updated_at"\s*>updated_at \(timestamp_ntz\)</option>'
    assert re.search(option, page), page[page.find("step-options"):][:3000]
    review = post_form(app_client, "/ui/flows/new", csrf, step="review",
                       **wizard_fields(connection_id))
    assert review.status_code == 200, review.text
    text = html.unescape(review.text)
    requests = re.findall(r"<code>POST ([^<]+)</code></p><pre>(.*?)</pre>", text, re.S)
    assert [path.rsplit("/", 1)[1] for path, _body in requests] == [
        "sourceConnections", "dataSets", "targetConnections", "flows"]
    source, dataset, target, flow = (json.loads(body) for _path, body in requests)
    assert source["baseConnectionId"] == connection_id
    assert source["params"] == {"tableName": "orders"} and dataset == {"name": "orders lake"}
    assert target["params"] == {"dataSetId": "{dataSet.id}"}
    assert flow["sourceConnectionIds"] == ["{sourceConnection.id}"]
    assert flow["options"]["primaryKey"] == ["id"]
    assert text.count('datetime="2099-01-01T') == 1 + 4  # backfill tick 0, then 4 windows
    assert 'datetime="2099-01-01T18:00:00Z"' in text  # every 2 hours
    assert count(caller, "flows") == 0 and count(caller, "sourceConnections") == 0
    # Refused bodies: merge without a key (the flow's option schema), a bad start time.
    for changes, code in (({"primary_key": ""}, "FLOW-1000-400"),
                          ({"start_at": "tomorrow"}, "FLOW-1340-400"),
                          ({"frequency": "minute", "interval": "5"}, "FLOW-1362-400")):
        for step in ("review", "create"):
            refused = post_form(app_client, "/ui/flows/new", csrf, step=step,
                                **wizard_fields(connection_id, **changes))
            assert refused.status_code == 400, (changes, refused.text)
            assert code in refused.text, (changes, code)
    assert count(caller, "sourceConnections") == 0 and count(caller, "targetConnections") == 0
    assert caller.get(f"{CATALOG}/dataSets").json() == {}
    created = post_form(app_client, "/ui/flows/new", csrf, step="create",
                        **wizard_fields(connection_id))
    assert created.status_code == 303
    flow_id = created.headers["location"].split("/ui/flows/", 1)[1].split("?", 1)[0]
    flow = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]
    assert flow["scheduleParams"] == {"startTime": epoch(2099, 1, 1, 10), "frequency": "hour",
                                      "interval": 2, "backfill": True}
    assert flow["options"] == {"writeMode": "merge", "primaryKey": ["id"],
                               "schemaEvolution": "addColumns",
                               "errorDiagnosticsEnabled": True, "partialIngestionPercent": 5.0}
    assert flow["transformations"] == [
        {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]
    [dataset] = caller.get(f"{CATALOG}/dataSets").json().values()
    assert dataset["name"] == "orders lake"


def test_editing_a_flow_patches_schedule_and_options_and_a_lost_update_shows_412(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    built = orders_flow(caller, settings)
    csrf = login(app_client, caller)
    page = app_client.get(f"/ui/flows/{built.flow_id}/edit").text
    etag = etag_in(page)
    before = caller.get(f"{FS}/flows/{built.flow_id}").json()["items"][0]
    fields = {"etag": etag, "kind": "table", "frequency": "once",
              "start_at": "2099-02-01 08:30", "write_mode": "append",
              "error_diagnostics": "on", "partial_percent": "10"}
    saved = post_form(app_client, f"/ui/flows/{built.flow_id}/edit", csrf, **fields)
    assert saved.status_code == 303, saved.text
    after = caller.get(f"{FS}/flows/{built.flow_id}").json()["items"][0]
    assert after["scheduleParams"] == {"startTime": epoch(2099, 2, 1, 8, 30),
                                       "frequency": "once"}
    assert after["options"] == {"writeMode": "append", "errorDiagnosticsEnabled": True,
                                "partialIngestionPercent": 10.0}
    assert after["etag"] != before["etag"]
    stale = post_form(app_client, f"/ui/flows/{built.flow_id}/edit", csrf,
                      **{**fields, "write_mode": "merge", "primary_key": "id"})
    assert stale.status_code == 412 and "-412" in stale.text
    assert etag_in(stale.text) == after["etag"]  # reloaded: the current version
    assert caller.get(f"{FS}/flows/{built.flow_id}").json()["items"][0]["options"] == (
        after["options"])
