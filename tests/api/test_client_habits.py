"""What real clients and scripts send, and what they do with the answer (issue 12): bodies
with unknown and read-only fields, bodies without a JSON Content-Type, page 2 built as
base URL + `_links.next.href`, "source flows only", `x-sandbox-name: *`, and the
enable/disable actions of connections."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from sluice.config import Settings
from support.api_bodies import CATALOG, FS, created_id, sqlite_connection, sqlite_file
from support.api_runs import make_worker, run_all
from support.callers import Caller, error_code
from support.flow_bodies import flow_body, table_flow_parts

IGNORED = "x-sluice-ignored-fields"


def ignored(response: Any) -> set[str]:
    return {f.strip() for f in response.headers.get(IGNORED, "").split(",") if f.strip()}


def _item(caller: Caller, path: str) -> dict[str, Any]:
    response = caller.get(path)
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["items"][0]
    return item


def test_a_body_copied_from_a_get_is_accepted_and_changes_no_system_field(
    caller: Caller, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = _item(caller, f"{FS}/connections/" + created_id(
        caller.post(f"{FS}/connections", json=sqlite_connection(sqlite_file(root), "copied"))))
    # A script re-posts what it read, secrets filled in again, with every system field.
    body = {**original, "auth": {**original["auth"], "params": {"path": str(root / "shop.db")}},
            "status": "active"}
    with caplog.at_level(logging.DEBUG, logger="sluice.api"):
        response = caller.post(f"{FS}/connections", json=body)
    assert response.status_code == 201, response.text
    assert ignored(response) >= {"id", "etag", "createdAt", "createdBy", "imsOrgId", "_links",
                                 "state", "version", "status", "sandboxName"}
    assert "connectionSpec" not in ignored(response) and "name" not in ignored(response)
    assert any(IGNORED not in r.message and "ignored body field(s)" in r.message
               and "status" in r.message for r in caplog.records)
    copy = _item(caller, f"{FS}/connections/{response.json()['id']}")
    assert copy["id"] != original["id"] and copy["etag"] != original["etag"]
    assert copy["createdAt"] >= original["createdAt"]
    assert copy["_links"]["self"]["href"] == f"/connections/{copy['id']}"


def test_every_create_ignores_unknown_fields_and_names_them(caller: Caller, root: Path) -> None:
    base, source, target = table_flow_parts(caller, root)
    flow = caller.post(f"{FS}/flows", json={
        **flow_body(source, target), "id": "forged", "inheritedAttributes": {"x": 1},
        "scheduleParams": {"startTime": str(int(time.time()) + 3600), "frequency": "once"}})
    assert flow.status_code == 201, flow.text
    assert ignored(flow) == {"id", "inheritedAttributes"}
    flow_id = flow.json()["id"]
    assert flow_id != "forged"
    assert _item(caller, f"{FS}/flows/{flow_id}")["inheritedAttributes"]["sourceConnections"]
    dataset = caller.post(f"{CATALOG}/dataSets", json={
        "name": "d", "created": 1, "imsOrg": "someone-else",
        "schema": {"fields": [{"name": "a", "type": "string", "format": "x"}]}})
    assert dataset.status_code == 201, dataset.text
    assert ignored(dataset) == {"created", "imsOrg", "schema.fields[0].format"}
    dataset_id = created_id(dataset)
    stored = caller.get(f"{CATALOG}/dataSets/{dataset_id}").json()[dataset_id]
    assert stored["imsOrg"] == caller.org_id and stored["created"] > 1
    source_copy = caller.post(f"{FS}/sourceConnections", json={
        **_item(caller, f"{FS}/sourceConnections/{source}"), "name": "again"})
    assert source_copy.status_code == 201 and "_links" in ignored(source_copy)
    # A widely used client adds "status": "active" to every run request.
    run = caller.post(f"{FS}/runs", json={
        "flowId": flow_id, "status": "active",
        "params": {"startTime": "0", "windowStartTime": "1", "windowEndTime": "2",
                   "deltaColumn": {"name": "updated_at", "comment": "x"}, "note": 1}})
    assert run.status_code == 201, run.text
    assert ignored(run) == {"status", "params.note", "params.deltaColumn.comment"}
    clean = caller.post(f"{FS}/connections", json=sqlite_connection(sqlite_file(root), "c"))
    assert IGNORED not in clean.headers
    assert base


def test_known_fields_with_wrong_values_are_still_coded_400s(caller: Caller, root: Path) -> None:
    body = sqlite_connection(sqlite_file(root))
    for change in ({"name": 5}, {"connectionSpec": {"id": []}}, {"description": {"a": 1}}):
        response = caller.post(f"{FS}/connections", json={**body, **change, "extra": 1})
        assert response.status_code == 400, (change, response.text)
        assert IGNORED not in response.headers
    assert caller.get(f"{FS}/connections?count=true").json() == {"count": 0}


def test_ignored_field_names_are_encoded_for_the_header(caller: Caller) -> None:
    response = caller.post(f"{CATALOG}/dataSets", json={"name": "d", "a\nb": 1, "é": 2})
    assert response.status_code == 201, response.text
    assert ignored(response) == {"%C3%A9", "a%0Ab"}


def test_json_without_a_json_content_type_is_read_as_json(caller: Caller, root: Path) -> None:
    raw = b'{"name": "bare"}'
    for headers in ({}, {"content-type": "application/x-www-form-urlencoded"}):
        response = caller.http.post(f"{CATALOG}/dataSets", content=raw,
                                    headers={**caller.headers(), **headers})
        assert response.status_code == 201, (headers, response.text)
    plain = {"content-type": "text/plain"}
    refused = caller.post(f"{CATALOG}/dataSets", content=raw, headers=plain)
    assert refused.status_code == 400 and refused.json()["title"] == "BadRequestError"
    assert caller.get(f"{CATALOG}/dataSets?count=true").json() == {"count": 2}


def test_page_two_is_base_url_plus_href(caller: Caller, root: Path) -> None:
    database = sqlite_file(root)
    for n in range(3):
        created_id(caller.post(f"{FS}/connections", json=sqlite_connection(database, f"c{n}")))
    base_url = FS  # what a client is configured with, the host left out
    first = caller.get(f"{base_url}/connections?limit=2").json()
    href = first["_links"]["next"]["href"]
    assert href.startswith("/connections?continuationToken=")
    second = caller.get(base_url + href)
    assert second.status_code == 200, second.text
    names = [i["name"] for i in first["items"] + second.json()["items"]]
    assert sorted(names) == ["c0", "c1", "c2"] and second.json()["_links"] == {}
    # So does a flow's runs list, and a projection survives the next page.
    page = caller.get(f"{FS}/connections?limit=1&properties=name").json()
    assert set(page["items"][0]) == {"id", "name"}
    following = caller.get(base_url + page["_links"]["next"]["href"]).json()
    assert set(following["items"][0]) == {"id", "name"}


def test_source_flows_filter(caller: Caller, root: Path) -> None:
    _base, source, target = table_flow_parts(caller, root)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target)))
    for query, expected in (
        ("inheritedAttributes.properties.isSourceFlow==true", [flow_id]),
        ("inheritedAttributes.properties.isSourceFlow==True", [flow_id]),
        ("inheritedAttributes.properties.isSourceFlow==false", []),
        ("inheritedAttributes.properties.isDestinationFlow==false", [flow_id]),
        ("inheritedAttributes.properties.isDestinationFlow==true", []),
    ):
        items = caller.get(f"{FS}/flows", params={"property": query}).json()["items"]
        assert [i["id"] for i in items] == expected, query
    bad = caller.get(f"{FS}/flows?property=inheritedAttributes.properties.isSourceFlow==maybe")
    assert error_code(bad) == "FLOW-1452-400"


def test_wildcard_sandbox_is_2111_403(caller: Caller) -> None:
    response = caller.get(f"{FS}/flows", headers={"x-sandbox-name": "*"})
    assert response.status_code == 403
    assert error_code(response) == "FLOW-2111-403"
    assert response.json()["title"] == "Forbidden"
    assert error_code(caller.get(f"{FS}/flows", headers={"x-sandbox-name": "nope"})) == (
        "FLOW-2101-404")


def test_connections_enable_and_disable(caller: Caller, root: Path) -> None:
    base, source, target = table_flow_parts(caller, root)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target)))
    run = {"flowId": flow_id, "params": {"startTime": "0", "windowStartTime": "1",
                                         "windowEndTime": "2",
                                         "deltaColumn": {"name": "updated_at"}}}
    for path in (f"{FS}/connections/{base}", f"{FS}/sourceConnections/{source}",
                 f"{FS}/targetConnections/{target}"):
        before = _item(caller, path)
        disabled = caller.post(f"{path}/action?op=disable")
        assert disabled.status_code == 200, disabled.text
        assert set(disabled.json()) == {"id", "etag"} and disabled.json()["etag"] != before["etag"]
        assert _item(caller, path)["state"] == "disabled"
        refused = caller.post(f"{FS}/runs", json=run)
        assert error_code(refused) == "FLOW-1444-400", path
        assert path.rsplit("/", 1)[1] in refused.json()["report"]["detailed-message"]
        again = caller.post(f"{path}/action?op=disable")
        assert again.json()["etag"] == disabled.json()["etag"]  # nothing changed
        stale = caller.post(f"{path}/action?op=enable", headers={"If-Match": before["etag"]})
        assert error_code(stale) == "FLOW-1404-412"
        enabled = caller.post(f"{path}/action?op=ENABLE",
                              headers={"If-Match": disabled.json()["etag"]})
        assert enabled.status_code == 200 and _item(caller, path)["state"] == "enabled"
        assert error_code(caller.post(f"{path}/action?op=explode")) == "FLOW-1000-400"
    assert caller.post(f"{FS}/runs", json=run).status_code == 201
    missing = caller.post(f"{FS}/connections/nope/action?op=enable")
    assert error_code(missing) == "FLOW-1439-404"


def test_flow_runs_link(caller: Caller, root: Path) -> None:
    _base, source, target = table_flow_parts(caller, root)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target)))
    other = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target)))
    window = {"startTime": "0", "windowStartTime": "1", "windowEndTime": "2",
              "deltaColumn": {"name": "updated_at"}}
    mine = [caller.post(f"{FS}/runs", json={"flowId": flow_id, "params": window})
            .json()["items"][0]["id"] for _ in range(3)]
    caller.post(f"{FS}/runs", json={"flowId": other, "params": window})
    flow = _item(caller, f"{FS}/flows/{flow_id}")
    assert flow["_links"]["runs"] == {"href": f"/flows/{flow_id}/runs"}
    first = caller.get(f"{FS}{flow['_links']['runs']['href']}?limit=2").json()
    second = caller.get(FS + first["_links"]["next"]["href"]).json()
    seen = [r["id"] for r in first["items"] + second["items"]]
    assert sorted(seen) == sorted(mine)
    assert caller.get(f"{FS}/flows/{flow_id}/runs?count=true").json() == {"count": 3}
    assert error_code(caller.get(f"{FS}/flows/nope/runs")) == "FLOW-1439-404"


def test_a_scheduled_run_of_a_disabled_connection_fails_before_reading(
    caller: Caller, root: Path, settings: Settings
) -> None:
    base, source, target = table_flow_parts(caller, root)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target)))
    run_id = caller.post(f"{FS}/runs", json={"flowId": flow_id, "params": {
        "startTime": "0", "windowStartTime": "1", "windowEndTime": "2",
        "deltaColumn": {"name": "updated_at"}}}).json()["items"][0]["id"]
    assert caller.post(f"{FS}/connections/{base}/action?op=disable").status_code == 200
    assert run_all(make_worker(settings)) == 1
    run = _item(caller, f"{FS}/runs/{run_id}")
    status = run["metrics"]["statusSummary"]
    assert status["status"] == "failed"
    assert base in str(status["errors"]) and "disabled" in str(status["errors"])
