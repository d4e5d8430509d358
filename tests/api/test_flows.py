"""Flows over HTTP: create with the reference's schedule rules, read, patch, act, delete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from support.api_bodies import FS, created_id
from support.callers import Caller, error_code
from support.flow_bodies import FILE_SPEC, file_flow_parts, flow_body, table_flow_parts


def test_table_flow_round_trip(caller: Caller, root: Path) -> None:
    base, source, target_id = table_flow_parts(caller, root)
    response = caller.post(f"{FS}/flows", json=flow_body(source, target_id))
    flow_id = created_id(response)
    item = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]
    assert item["state"] == "enabled"
    assert item["sourceConnectionIds"] == [source]
    assert item["inheritedAttributes"]["sourceConnections"][0]["baseConnection"]["id"] == base
    assert item["inheritedAttributes"]["targetConnections"][0]["id"] == target_id
    assert item["scheduleParams"]["frequency"] == "once"
    assert isinstance(item["scheduleParams"]["startTime"], int)
    assert item["runs"] == f"/runs?property=flowId=={flow_id}"
    assert item["lastOperation"]["operation"] == "create"
    assert item["etag"] == item["version"] == response.json()["etag"]


def test_file_flow_created_with_the_docs_string_numbers(caller: Caller, root: Path) -> None:
    source, target_id = file_flow_parts(caller, root)
    start = int(time.time()) + 600
    body = flow_body(
        source,
        target_id,
        spec=FILE_SPEC,
        schedule={
            "startTime": str(start),
            "frequency": "minute",
            "interval": "15",
            "backfill": "true",
        },
    )
    flow_id = created_id(caller.post(f"{FS}/flows", json=body))
    schedule = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]["scheduleParams"]
    assert schedule == {"startTime": start, "frequency": "minute", "interval": 15, "backfill": True}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"state": "enabled"}, "FLOW-1410-400"),
        ({"mode": "x"}, "FLOW-1368-400"),
        ({"flowSpec": {"id": "nope"}}, "FLOW-1413-400"),
        ({"scheduleParams": {}}, "FLOW-1317-400"),
        ({"scheduleParams": {"startTime": "1", "frequency": "once"}}, "FLOW-1360-400"),
        ({"scheduleParams": {"startTime": "abc", "frequency": "once"}}, "FLOW-1340-400"),
        ({"scheduleParams": {"startTime": "9999999999", "frequency": "yearly"}}, "FLOW-1397-400"),
        (
            {"scheduleParams": {"startTime": "9999999999", "frequency": "once", "interval": 1}},
            "FLOW-1361-400",
        ),
        (
            {"scheduleParams": {"startTime": "9999999999", "frequency": "once", "backfill": True}},
            "FLOW-1364-400",
        ),
        (
            {"scheduleParams": {"startTime": "9999999999", "frequency": "minute", "interval": 5}},
            "FLOW-1362-400",
        ),
        (
            {
                "transformations": [
                    {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}
                ]
            },
            "FLOW-1369-400",
        ),
        (
            {"scheduleParams": {"startTime": "9999999999", "frequency": "hour", "interval": 1}},
            "FLOW-1367-400",
        ),
        ({"sourceConnectionIds": ["missing"]}, "FLOW-1439-400"),
        ({"targetConnectionIds": []}, "FLOW-1000-400"),
        ({"unexpected": 1, "labels": "not-a-list"}, "FLOW-1000-400"),
    ],
)
def test_invalid_flow_creates_are_coded_and_leave_nothing(
    caller: Caller, root: Path, change: dict[str, Any], code: str
) -> None:
    _base, source, target_id = table_flow_parts(caller, root)
    body = {**flow_body(source, target_id), **change}
    response = caller.post(f"{FS}/flows", json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == code
    assert caller.get(f"{FS}/flows?count=true").json() == {"count": 0}


def test_file_source_in_table_flow_spec_is_refused(caller: Caller, root: Path) -> None:
    source, target_id = file_flow_parts(caller, root)
    response = caller.post(f"{FS}/flows", json=flow_body(source, target_id))
    assert response.status_code == 400
    assert "table" in response.json()["report"]["detailed-message"]


def test_patch_schedule_and_name(caller: Caller, root: Path) -> None:
    _base, source, target_id = table_flow_parts(caller, root)
    created = caller.post(f"{FS}/flows", json=flow_body(source, target_id)).json()
    start = int(time.time()) + 7200
    patch = [
        {
            "op": "replace",
            "path": "/scheduleParams",
            "value": {"startTime": start, "frequency": "day", "interval": 1},
        },
        {
            "op": "add",
            "path": "/transformations/-",
            "value": {"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}},
        },
        {"op": "replace", "path": "/name", "value": "daily orders"},
    ]
    response = caller.patch(
        f"{FS}/flows/{created['id']}", json=patch, headers={"If-Match": created["etag"]}
    )
    assert response.status_code == 200, response.text
    item = caller.get(f"{FS}/flows/{created['id']}").json()["items"][0]
    assert item["name"] == "daily orders"
    assert item["scheduleParams"] == {
        "startTime": start,
        "frequency": "day",
        "interval": 1,
        "backfill": True,
    }
    assert item["lastOperation"]["operation"] == "update"
    assert item["lastOperation"]["ops"][2]["path"] == "/name"


def test_patch_of_flow_spec_or_state_is_refused(caller: Caller, root: Path) -> None:
    _base, source, target_id = table_flow_parts(caller, root)
    created = caller.post(f"{FS}/flows", json=flow_body(source, target_id)).json()
    for path in ("/flowSpec/id", "/state", "/id", "/createdAt"):
        response = caller.patch(
            f"{FS}/flows/{created['id']}",
            json=[{"op": "replace", "path": path, "value": "x"}],
            headers={"If-Match": created["etag"]},
        )
        assert error_code(response) == "FLOW-1455-400", path
    assert caller.get(f"{FS}/flows/{created['id']}").json()["items"][0]["etag"] == created["etag"]


def test_enable_disable_actions(caller: Caller, root: Path) -> None:
    _base, source, target_id = table_flow_parts(caller, root)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target_id)))
    disabled = caller.post(f"{FS}/flows/{flow_id}/action?op=disable")
    assert disabled.status_code == 200 and set(disabled.json()) == {"id", "etag"}
    assert caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]["state"] == "disabled"
    assert caller.get(f"{FS}/flows?property=state==disabled").json()["items"][0]["id"] == flow_id
    enabled = caller.post(f"{FS}/flows/{flow_id}/action?op=ENABLE")
    assert enabled.status_code == 200
    assert caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]["state"] == "enabled"
    stale = caller.post(
        f"{FS}/flows/{flow_id}/action?op=disable", headers={"If-Match": disabled.json()["etag"]}
    )
    assert stale.status_code == 412
    assert error_code(caller.post(f"{FS}/flows/{flow_id}/action?op=finalize")) == "FLOW-1402-400"
    assert error_code(caller.post(f"{FS}/flows/{flow_id}/action?op=explode")) == "FLOW-1000-400"


def test_connections_used_by_a_flow_cannot_be_deleted(caller: Caller, root: Path) -> None:
    base, source, target_id = table_flow_parts(caller, root)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target_id)))
    assert error_code(caller.delete(f"{FS}/sourceConnections/{source}")) == "FLOW-1447-400"
    assert error_code(caller.delete(f"{FS}/targetConnections/{target_id}")) == "FLOW-1447-400"
    assert error_code(caller.delete(f"{FS}/connections/{base}")) == "FLOW-1418-400"
    assert caller.delete(f"{FS}/flows/{flow_id}").status_code == 204
    assert caller.get(f"{FS}/flows/{flow_id}").status_code == 404
    assert caller.delete(f"{FS}/sourceConnections/{source}").status_code == 204
    assert caller.delete(f"{FS}/connections/{base}").status_code == 204


def test_filter_flows_by_source_connection_array(caller: Caller, root: Path) -> None:
    _base, source, target_id = table_flow_parts(caller, root)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target_id)))
    found = caller.get(f"{FS}/flows?property=sourceConnectionIds[]=={source}").json()["items"]
    assert [f["id"] for f in found] == [flow_id]
    none = caller.get(f"{FS}/flows?property=sourceConnectionIds[]==other").json()["items"]
    assert none == []
    by_spec = caller.get(f"{FS}/flows?property=flowSpec.id=={FILE_SPEC}").json()["items"]
    assert by_spec == []
