"""Every request body of the compatibility reference (flow-service-api.md) and of the seed
tutorial, replayed as published: only placeholders (`…`, ids, `{TENANT}`) are filled in.
Each answer is checked field by field against the shape the reference documents."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from sluice.config import Settings
from support.api_bodies import (
    CATALOG,
    DATA_LAKE_SPEC,
    FILE_FLOW_SPEC,
    FS,
    LOCAL_FILES_SPEC,
    POSTGRES_SPEC,
    SEED_FILE_RUN,
    SEED_FLOW_ID,
    SEED_TABLE_RUN,
    TABLE_FLOW_SPEC,
    created_id,
)
from support.callers import Caller, error_code
from support.connector_reads import pg_execute
from support.sample_flows import lake_target, sqlite_table_source

JSON = {"content-type": "application/json"}
SYSTEM_FIELDS = {
    "id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdClient",
    "updatedClient", "sandboxId", "sandboxName", "imsOrgId", "etag",
}

# --- the reference's bodies, as published (section numbers of flow-service-api.md) -------

# 1.2: `params` is `{…credentials…}` there, not JSON; PostgreSQL's Basic Authentication.
CONNECTION_12 = (
    '{"name":"…","description":"…","auth":{"specName":"Basic Authentication","params":'
    '{"host":"127.0.0.1","port":5432,"database":"test","username":"postgres","password":"x"}'
    '},"connectionSpec":{"id":"…","version":"1.0"}}'
)
TABLE_PARAMS_13 = (
    '{"tableName":"test1.Mytable","columns":[{"name":"Datefield","type":"string",'
    '"meta:xdmType":"date-time","xdm":{"type":"string","format":"date-time"}}],'
    '"cdcEnabled":true}'
)
FILE_PARAMS_13 = '{"path":"/dir/*.tsv","recursive":"true"}'
TARGET_14 = (
    '{"name":"…","data":{"schema":{"id":"https://ns.adobe.com/{TENANT}/schemas/…","version":'
    '"application/vnd.adobe.xed-full+json;version=1"}},"params":{"dataSetId":"…"},'
    '"connectionSpec":{"id":"c604ff05-7f1a-43c0-8e18-33bf874cb11c","version":"1.0"}}'
)
FLOW_15 = """{"name":"Database dataflow","description":"…",
 "flowSpec":{"id":"14518937-270c-4525-bdec-c2ba7cce3860","version":"1.0"},
 "sourceConnectionIds":["b7581b59-…"],"targetConnectionIds":["320f119a-…"],
 "transformations":[
   {"name":"Copy","params":{"deltaColumn":{"name":"Datefield","dateFormat":"YYYY-MM-DD","timezone":"UTC"}}},
   {"name":"Mapping","params":{"mappingId":"0b090130b58b4819afc78b6dc98b484d","mappingVersion":0}}],
 "scheduleParams":{"startTime":"1612310466","frequency":"minute","interval":"15","backfill":"true"}}"""
FLOW_PATCH_15 = """[{"op":"replace","path":"/scheduleParams/frequency","value":"day"},
 {"op":"replace","path":"/name","value":"New name"},
 {"op":"replace","path":"/transformations/0","value":{"name":"Mapping","params":{"mappingId":"c5f2…","mappingVersion":2}}}]"""
LABELS_PATCH_15 = '[{"op":"add","path":"/labels","value":["core/C12"]}]'
# 3 and the seed: the two on-demand run bodies are SEED_TABLE_RUN and SEED_FILE_RUN.


def fill(text: str, **values: str) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def post_raw(caller: Caller, path: str, body: str) -> Any:
    return caller.post(path, content=body.encode(), headers=JSON)


def only_item(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items"} and len(body["items"]) == 1, body
    item: dict[str, Any] = body["items"][0]
    return item


def assert_created(response: Any, path: str) -> str:
    """201 `{id, etag}` with a Location, as the reference's creates answer."""
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "etag"}, body
    assert body["etag"].startswith('"') and body["etag"].endswith('"')
    assert response.headers["location"] == f"{path}/{body['id']}"
    return str(body["id"])


def assert_system_fields(item: dict[str, Any], caller: Caller) -> None:
    assert set(item) >= SYSTEM_FIELDS, SYSTEM_FIELDS - set(item)
    assert isinstance(item["createdAt"], int) and item["createdAt"] > 10**12  # epoch ms
    assert item["updatedAt"] >= item["createdAt"]
    assert item["imsOrgId"] == caller.org_id and item["sandboxName"] == "prod"
    assert item["createdClient"] == caller.client_id


@pytest.fixture
def people_db(settings: Settings) -> Path:
    path = Path(settings.allowed_file_roots[0]) / "people.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, DOB TIMESTAMP)")
    return path


def test_connection_12_round_trip(caller: Caller) -> None:
    body = fill(CONNECTION_12, **{'"id":"…"': f'"id":"{POSTGRES_SPEC}"'})
    connection_id = assert_created(post_raw(caller, f"{FS}/connections", body), f"{FS}/connections")
    item = only_item(caller.get(f"{FS}/connections/{connection_id}"))
    assert_system_fields(item, caller)
    assert (item["name"], item["description"]) == ("…", "…")
    assert item["connectionSpec"] == {"id": POSTGRES_SPEC, "version": "1.0"}
    assert item["state"] == "enabled"
    assert item["version"] == item["etag"]
    assert item["auth"]["specName"] == "Basic Authentication"
    assert item["auth"]["params"]["password"] != "x"  # secrets are masked
    assert item["auth"]["params"]["host"] == "127.0.0.1"
    listing = caller.get(f"{FS}/connections").json()
    assert set(listing) == {"items", "_links"} and listing["_links"] == {}


def test_source_and_target_connections_13_14(caller: Caller, settings: Settings) -> None:
    base = created_id(post_raw(caller, f"{FS}/connections",
                               fill(CONNECTION_12, **{'"id":"…"': f'"id":"{POSTGRES_SPEC}"'})))
    # The reference's table must exist now (a reachable source's missing table is refused,
    # issue 13): one of the test's own stands in for `test1.Mytable`.
    table = f"ref13_{uuid.uuid4().hex[:10]}"
    params = {**json.loads(TABLE_PARAMS_13), "tableName": f"public.{table}"}
    table_source = {"name": "db source", "baseConnectionId": base, "data": {"format": "tabular"},
                    "params": params,
                    "connectionSpec": {"id": POSTGRES_SPEC, "version": "1.0"}}
    pg_execute(f'CREATE TABLE "{table}" ("Datefield" timestamptz)')
    try:
        source_id = assert_created(caller.post(f"{FS}/sourceConnections", json=table_source),
                                   f"{FS}/sourceConnections")
    finally:
        pg_execute(f'DROP TABLE IF EXISTS "{table}"')
    source = only_item(caller.get(f"{FS}/sourceConnections/{source_id}"))
    assert_system_fields(source, caller)
    assert source["params"] == params
    assert source["baseConnectionId"] == base and source["data"]["format"] == "tabular"

    folder = Path(settings.allowed_file_roots[0]) / "dir"
    folder.mkdir()
    files = created_id(caller.post(f"{FS}/connections", json={
        "name": "files", "auth": {"specName": "Local Folder Authentication",
                                  "params": {"rootPath": str(folder.parent)}},
        "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}}))
    file_source = {"name": "tsv files", "baseConnectionId": files,
                   "data": {"format": "delimited", "columnDelimiter": "\t"},
                   "params": json.loads(FILE_PARAMS_13),
                   "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}}
    assert_created(caller.post(f"{FS}/sourceConnections", json=file_source),
                   f"{FS}/sourceConnections")

    dataset_id = created_id(caller.post(f"{CATALOG}/dataSets", json={"name": "orders"}))
    target = fill(TARGET_14, **{'"dataSetId":"…"': f'"dataSetId":"{dataset_id}"'})
    target_id = assert_created(post_raw(caller, f"{FS}/targetConnections", target),
                               f"{FS}/targetConnections")
    item = only_item(caller.get(f"{FS}/targetConnections/{target_id}"))
    assert_system_fields(item, caller)
    assert item["connectionSpec"] == {"id": DATA_LAKE_SPEC, "version": "1.0"}
    assert item["params"] == {"dataSetId": dataset_id}
    assert item["data"]["schema"]["version"] == "application/vnd.adobe.xed-full+json;version=1"
    # The reference's rule for any other target spec.
    other = fill(TARGET_14, c604ff05="deadbeef").replace('"…"}', f'"{dataset_id}"}}', 1)
    refused = post_raw(caller, f"{FS}/targetConnections", other)
    assert error_code(refused) == "FLOW-1307-400"


def _flow_parts(caller: Caller, settings: Settings) -> tuple[str, str, str]:
    """A SQLite table source, a lake target and a mapping set (id -> id), for flow bodies."""
    db = Path(settings.allowed_file_roots[0]) / "orders.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, Datefield TIMESTAMP)")
    source, dataset_id = sqlite_table_source(caller, db, "orders", name="shop")
    target_body = fill(TARGET_14, **{'"dataSetId":"…"': f'"dataSetId":"{dataset_id}"'})
    target = created_id(post_raw(caller, f"{FS}/targetConnections", target_body))
    mapping = created_id(caller.post("/data/foundation/conversion/mappingSets", json={
        "name": "orders", "mappings": [{"sourceType": "ATTRIBUTE", "source": "id",
                                        "destination": "id"}]}))
    return source, target, mapping


def test_flow_15_create_patch_and_item_fields(caller: Caller, settings: Settings) -> None:
    source, target, mapping = _flow_parts(caller, settings)
    ids = {"b7581b59-…": source, "320f119a-…": target,
           "0b090130b58b4819afc78b6dc98b484d": mapping}
    # As published: its startTime (2021) is in the past, which the reference refuses.
    assert error_code(post_raw(caller, f"{FS}/flows", fill(FLOW_15, **ids))) == "FLOW-1360-400"
    start = str(int(time.time()) + 3600)
    body = fill(FLOW_15, **ids, **{"1612310466": start})
    flow_id = assert_created(post_raw(caller, f"{FS}/flows", body), f"{FS}/flows")
    flow = only_item(caller.get(f"{FS}/flows/{flow_id}"))
    assert_system_fields(flow, caller)
    assert flow["flowSpec"] == {"id": TABLE_FLOW_SPEC, "version": "1.0"}
    assert flow["state"] == "enabled" and flow["version"] == flow["etag"]
    assert (flow["sourceConnectionIds"], flow["targetConnectionIds"]) == ([source], [target])
    inherited = flow["inheritedAttributes"]
    assert inherited["sourceConnections"][0]["id"] == source
    assert set(inherited["sourceConnections"][0]) == {"id", "connectionSpec", "baseConnection"}
    assert inherited["targetConnections"][0] == {
        "id": target, "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"}}
    assert inherited["properties"] == {"isSourceFlow": True, "isDestinationFlow": False}
    assert flow["scheduleParams"] == {"startTime": int(start), "frequency": "minute",
                                      "interval": 15, "backfill": True}
    assert [t["name"] for t in flow["transformations"]] == ["Copy", "Mapping"]
    assert flow["runs"] == f"/runs?property=flowId=={flow_id}"
    operation = flow["lastOperation"]
    assert operation["operation"] == "create" and operation["percentCompleted"] == 100
    assert operation["status"] == {"value": "completed", "errors": []}

    labels = caller.patch(f"{FS}/flows/{flow_id}", content=LABELS_PATCH_15.encode(),
                          headers={**JSON, "If-Match": flow["etag"]})
    assert labels.status_code == 200 and set(labels.json()) == {"id", "etag"}
    assert only_item(caller.get(f"{FS}/flows/{flow_id}"))["labels"] == ["core/C12"]


def test_flow_15_patch_as_published(caller: Caller, settings: Settings) -> None:
    """The update tutorial's patch; it replaces transformation 0 with a Mapping, so the
    flow puts its Mapping first, and its mapping set has a version 2."""
    source, target, mapping = _flow_parts(caller, settings)
    mapping_path = f"/data/foundation/conversion/mappingSets/{mapping}"
    for _ in range(2):
        etag = caller.get(mapping_path).headers["etag"]
        replaced = caller.put(mapping_path, headers={"If-Match": etag}, json={
            "name": "orders", "mappings": [{"sourceType": "ATTRIBUTE", "source": "id",
                                            "destination": "id"}]})
        assert replaced.status_code == 200, replaced.text
    body = json.loads(fill(FLOW_15, **{"b7581b59-…": source, "320f119a-…": target,
                                       "0b090130b58b4819afc78b6dc98b484d": mapping,
                                       "1612310466": str(int(time.time()) + 3600)}))
    body["transformations"].reverse()
    flow_id = created_id(caller.post(f"{FS}/flows", json=body))
    etag = only_item(caller.get(f"{FS}/flows/{flow_id}"))["etag"]
    # The tutorial's curl sends it without a Content-Type.
    patched = caller.patch(f"{FS}/flows/{flow_id}", headers={"If-Match": etag},
                           content=fill(FLOW_PATCH_15, **{"c5f2…": mapping}).encode())
    assert patched.status_code == 200, patched.text
    assert set(patched.json()) == {"id", "etag"} and patched.json()["etag"] != etag
    flow = only_item(caller.get(f"{FS}/flows/{flow_id}"))
    assert flow["name"] == "New name" and flow["scheduleParams"]["frequency"] == "day"
    assert flow["transformations"][0]["params"] == {"mappingId": mapping, "mappingVersion": 2}
    assert flow["lastOperation"]["operation"] == "update"


def _once_flow(caller: Caller, spec: str, source: str, target: str) -> str:
    return created_id(caller.post(f"{FS}/flows", json={
        "name": "on demand", "flowSpec": {"id": spec, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "transformations": [],
        "scheduleParams": {"startTime": str(int(time.time()) + 86_400), "frequency": "once"}}))


def _people_parts(caller: Caller, people_db: Path) -> tuple[str, str]:
    """(source, target) of a table flow reading the `people` table into a dataset."""
    source, dataset_id = sqlite_table_source(caller, people_db, "people", name="people")
    return source, lake_target(caller, dataset_id)


def test_seed_requests_byte_for_byte(caller: Caller, settings: Settings, people_db: Path) -> None:
    source, target = _people_parts(caller, people_db)
    table_flow = _once_flow(caller, TABLE_FLOW_SPEC, source, target)

    folder = Path(settings.allowed_file_roots[0]) / "events"
    folder.mkdir()
    files = created_id(caller.post(f"{FS}/connections", json={
        "name": "events", "auth": {"specName": "Local Folder Authentication",
                                   "params": {"rootPath": str(folder)}},
        "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}}))
    file_source = created_id(caller.post(f"{FS}/sourceConnections", json={
        "name": "events", "baseConnectionId": files,
        "data": {"format": "delimited", "columnDelimiter": ","}, "params": {"path": "*.csv"},
        "connectionSpec": {"id": LOCAL_FILES_SPEC}}))
    file_flow = _once_flow(caller, FILE_FLOW_SPEC, file_source, target)

    for flow_id, published in ((table_flow, SEED_TABLE_RUN), (file_flow, SEED_FILE_RUN)):
        response = post_raw(caller, f"{FS}/runs", published.replace(SEED_FLOW_ID, flow_id))
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {"items"} and len(body["items"]) == 1
        assert set(body["items"][0]) == {"id", "etag"}
        assert "x-sluice-ignored-fields" not in response.headers  # every field is known
        run = only_item(caller.get(f"{FS}/runs/{body['items'][0]['id']}"))
        assert_system_fields(run, caller)
        assert run["flowId"] == flow_id
        # The 11-digit windowEndTime is seconds, as published.
        assert run["params"]["windowStartTime"] == 1651584991
        assert run["params"]["windowEndTime"] == 16515859567
        assert run["params"]["startTime"] == 1663735590
        assert run["metrics"]["statusSummary"]["status"] == "scheduled"
        assert run["activities"] == []
        assert run["flowSpec"]["id"] in (TABLE_FLOW_SPEC, FILE_FLOW_SPEC)
    listed = caller.get(f"{FS}/runs", params={"property": f"flowId=={table_flow}"}).json()
    assert [r["flowId"] for r in listed["items"]] == [table_flow]
    assert listed["items"][0]["params"]["deltaColumn"] == {"name": "DOB"}
    assert listed["_links"] == {}


def test_flow_and_run_actions_of_the_reference(
    caller: Caller, people_db: Path
) -> None:
    source, target = _people_parts(caller, people_db)
    flow_id = _once_flow(caller, TABLE_FLOW_SPEC, source, target)
    for op, state in (("disable", "disabled"), ("ENABLE", "enabled")):
        answer = caller.post(f"{FS}/flows/{flow_id}/action?op={op}")
        assert answer.status_code == 200 and set(answer.json()) == {"id", "etag"}
        assert only_item(caller.get(f"{FS}/flows/{flow_id}"))["state"] == state
    finalize = caller.post(f"{FS}/flows/{flow_id}/action?op=finalize")
    assert error_code(finalize) == "FLOW-1402-400"
    run = post_raw(caller, f"{FS}/runs", SEED_TABLE_RUN.replace(SEED_FLOW_ID, flow_id))
    run_id = run.json()["items"][0]["id"]
    retry = caller.post(f"{FS}/runs/{run_id}/action?op=RE_TRIGGER")
    assert error_code(retry) == "FLOW-1387-400"  # a scheduled run is not failed
    assert error_code(caller.put(f"{FS}/runs/{run_id}", json={})) == "FLOW-1427-400"
    deleted = caller.delete(f"{FS}/sourceConnections/{source}")
    assert error_code(deleted) == "FLOW-1447-400"
