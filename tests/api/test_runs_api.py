"""`/runs` over HTTP: the tutorial's requests, every creation rule, reads, cancel, re-trigger."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from support.api_bodies import FS, created_id
from support.callers import Caller, error_code
from support.flow_bodies import FILE_SPEC, file_flow_parts, flow_body, table_flow_parts

SEED_TIMES = {
    "startTime": "1663735590",
    "windowStartTime": "1651584991",
    "windowEndTime": "16515859567",
}


@pytest.fixture
def file_flow(caller: Caller, root: Path) -> str:
    source, target_id = file_flow_parts(caller, root)
    return created_id(caller.post(f"{FS}/flows", json=flow_body(source, target_id, spec=FILE_SPEC)))


def _run_count(caller: Caller, flow_id: str) -> int:
    return int(caller.get(f"{FS}/runs?property=flowId=={flow_id}&count=true").json()["count"])


def test_seed_table_request_creates_a_run_and_sets_the_delta_column(
    caller: Caller, table_flow: str
) -> None:
    body = {"flowId": table_flow, "params": {**SEED_TIMES, "deltaColumn": {"name": "updated_at"}}}
    response = caller.post(f"{FS}/runs/", json=body)
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert len(items) == 1 and set(items[0]) == {"id", "etag"}
    run = caller.get(f"{FS}/runs/{items[0]['id']}").json()["items"][0]
    assert run["flowId"] == table_flow
    assert run["params"] == {
        "startTime": 1663735590,
        "windowStartTime": 1651584991,
        "windowEndTime": 16515859567,
        "deltaColumn": {"name": "updated_at"},
    }
    assert run["metrics"]["statusSummary"]["status"] == "scheduled"
    assert run["activities"] == []
    assert run["etag"] == items[0]["etag"]
    flow = caller.get(f"{FS}/flows/{table_flow}").json()["items"][0]
    copy = [t for t in flow["transformations"] if t["name"] == "Copy"]
    assert copy == [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]


def test_seed_file_request_creates_a_run(caller: Caller, file_flow: str) -> None:
    response = caller.post(f"{FS}/runs", json={"flowId": file_flow, "params": SEED_TIMES})
    assert response.status_code == 201, response.text
    run_id = response.json()["items"][0]["id"]
    listed = caller.get(f"{FS}/runs?property=flowId=={file_flow}").json()["items"]
    assert [r["id"] for r in listed] == [run_id]


def test_later_runs_may_omit_the_delta_column_but_not_change_it(
    caller: Caller, table_flow: str
) -> None:
    first = {"flowId": table_flow, "params": {**SEED_TIMES, "deltaColumn": {"name": "updated_at"}}}
    assert caller.post(f"{FS}/runs", json=first).status_code == 201
    omitted = caller.post(f"{FS}/runs", json={"flowId": table_flow, "params": SEED_TIMES})
    assert omitted.status_code == 201
    same = caller.post(f"{FS}/runs", json=first)
    assert same.status_code == 201
    changed = {"flowId": table_flow, "params": {**SEED_TIMES, "deltaColumn": {"name": "id"}}}
    response = caller.post(f"{FS}/runs", json=changed)
    assert response.status_code == 400 and error_code(response) == "FLOW-1382-400"
    assert _run_count(caller, table_flow) == 3


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"params": SEED_TIMES}, "FLOW-1446-400"),
        ({"flowId": "", "params": SEED_TIMES}, "FLOW-1446-400"),
        ({"flowId": "FLOW", "params": {}}, "FLOW-1384-400"),
        ({"flowId": "FLOW"}, "FLOW-1384-400"),
        ({"flowId": "FLOW", "params": {**SEED_TIMES, "windowStartTime": "abc"}}, "FLOW-1384-400"),
        ({"flowId": "FLOW", "params": {**SEED_TIMES, "extra": 1, "windowEndTime": "x"}},
         "FLOW-1384-400"),
        (
            {
                "flowId": "FLOW",
                "params": {"startTime": "1", "windowStartTime": "20", "windowEndTime": "10"},
            },
            "FLOW-1381-400",
        ),
        (  # An empty window, [20, 20), is refused like an inverted one.
            {
                "flowId": "FLOW",
                "params": {"startTime": "1", "windowStartTime": "20", "windowEndTime": "20"},
            },
            "FLOW-1381-400",
        ),
        ({"flowId": "FLOW", "params": SEED_TIMES}, "FLOW-1383-400"),
        ({"flowId": "FLOW", "params": {**SEED_TIMES, "deltaColumn": {}}}, "FLOW-1384-400"),
        ({"flowId": "missing-flow", "params": SEED_TIMES}, "FLOW-1430-400"),
        ({"flowId": 5, "params": SEED_TIMES, "other": 1}, "FLOW-1446-400"),
    ],
)
def test_invalid_run_requests_are_coded_and_create_nothing(
    caller: Caller, table_flow: str, body: dict[str, Any], code: str
) -> None:
    if body.get("flowId") == "FLOW":
        body = {**body, "flowId": table_flow}
    response = caller.post(f"{FS}/runs", json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == code
    assert _run_count(caller, table_flow) == 0
    flow = caller.get(f"{FS}/flows/{table_flow}").json()["items"][0]
    assert flow["transformations"] == []


def test_window_end_before_start_message_is_the_reference_text(
    caller: Caller, file_flow: str
) -> None:
    response = caller.post(
        f"{FS}/runs",
        json={
            "flowId": file_flow,
            "params": {"startTime": "1", "windowStartTime": "20", "windowEndTime": "10"},
        },
    )
    assert response.json()["report"]["detailed-message"] == (
        "WindowEndTime=10 cannot be before Window StartTime=20"
    )


def test_delta_column_on_a_file_flow_is_refused(caller: Caller, file_flow: str) -> None:
    body = {"flowId": file_flow, "params": {**SEED_TIMES, "deltaColumn": {"name": "x"}}}
    assert error_code(caller.post(f"{FS}/runs", json=body)) == "FLOW-1384-400"


def test_disabled_flow_takes_no_runs(caller: Caller, file_flow: str) -> None:
    caller.post(f"{FS}/flows/{file_flow}/action?op=disable")
    response = caller.post(f"{FS}/runs", json={"flowId": file_flow, "params": SEED_TIMES})
    assert error_code(response) == "FLOW-1444-400"
    assert _run_count(caller, file_flow) == 0


def test_other_tenant_cannot_run_or_see_runs(
    caller: Caller, other_caller: Caller, file_flow: str
) -> None:
    run_id = caller.post(f"{FS}/runs", json={"flowId": file_flow, "params": SEED_TIMES}).json()[
        "items"
    ][0]["id"]
    assert (
        error_code(
            other_caller.post(f"{FS}/runs", json={"flowId": file_flow, "params": SEED_TIMES})
        )
        == "FLOW-1430-400"
    )
    assert other_caller.get(f"{FS}/runs/{run_id}").status_code == 404
    assert other_caller.get(f"{FS}/runs").json()["items"] == []
    assert other_caller.post(f"{FS}/runs/{run_id}/action?op=cancel").status_code == 404


def test_cancel_a_scheduled_run_then_it_cannot_be_cancelled_again(
    caller: Caller, file_flow: str
) -> None:
    future = str(int(time.time()) + 3600)
    run_id = caller.post(
        f"{FS}/runs", json={"flowId": file_flow, "params": {**SEED_TIMES, "startTime": future}}
    ).json()["items"][0]["id"]
    response = caller.post(f"{FS}/runs/{run_id}/action?op=cancel")
    assert response.status_code == 200
    run = caller.get(f"{FS}/runs/{run_id}").json()["items"][0]
    assert run["metrics"]["statusSummary"]["status"] == "cancelled"
    assert run["etag"] == response.json()["etag"]
    assert error_code(caller.post(f"{FS}/runs/{run_id}/action?op=cancel")) == "FLOW-1387-400"
    by_state = caller.get(f"{FS}/runs?property=state==cancelled").json()["items"]
    assert [r["id"] for r in by_state] == [run_id]


def test_a_disabled_source_base_or_target_connection_takes_no_runs(
    caller: Caller, root: Path
) -> None:
    """The three connections are read in one statement: each one disabled alone is named."""
    base, source, target = table_flow_parts(caller, root)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(source, target)))
    body = {"flowId": flow_id, "params": {"startTime": "0", "windowStartTime": "1",
                                          "windowEndTime": "2",
                                          "deltaColumn": {"name": "updated_at"}}}
    for path, connection_id in (("sourceConnections", source), ("connections", base),
                                ("targetConnections", target)):
        assert caller.post(f"{FS}/{path}/{connection_id}/action?op=disable").status_code == 200
        refused = caller.post(f"{FS}/runs", json=body)
        assert error_code(refused) == "FLOW-1444-400"
        assert f"Connection {connection_id} of flow {flow_id} is disabled" in refused.text
        assert caller.post(f"{FS}/{path}/{connection_id}/action?op=enable").status_code == 200
    assert caller.post(f"{FS}/runs", json=body).status_code == 201


def test_retrigger_only_failed_or_empty_successful_runs(caller: Caller, file_flow: str) -> None:
    run_id = caller.post(f"{FS}/runs", json={"flowId": file_flow, "params": SEED_TIMES}).json()[
        "items"
    ][0]["id"]
    for op in ("re-trigger", "RE_TRIGGER"):
        response = caller.post(f"{FS}/runs/{run_id}/action?op={op}")
        assert error_code(response) == "FLOW-1387-400"
    assert error_code(caller.post(f"{FS}/runs/{run_id}/action?op=explode")) == "FLOW-1333-400"
    assert error_code(caller.put(f"{FS}/runs/{run_id}", json={})) == "FLOW-1427-400"


def test_flow_with_active_runs_cannot_be_deleted(caller: Caller, file_flow: str) -> None:
    run_id = caller.post(f"{FS}/runs", json={"flowId": file_flow, "params": SEED_TIMES}).json()[
        "items"
    ][0]["id"]
    assert error_code(caller.delete(f"{FS}/flows/{file_flow}")) == "FLOW-1444-400"
    caller.post(f"{FS}/runs/{run_id}/action?op=cancel")
    assert caller.delete(f"{FS}/flows/{file_flow}").status_code == 204
    assert caller.get(f"{FS}/runs/{run_id}").status_code == 404


def test_a_runs_page_is_one_statement_outside_a_transaction_on_postgresql(
    caller: Caller, file_flow: str, database_url: str
) -> None:
    """The list's one SELECT runs in autocommit on PostgreSQL (no BEGIN and COMMIT round
    trips); SQLite's driver never began a transaction for a SELECT anyway."""
    body = {"flowId": file_flow, "params": SEED_TIMES}
    for _ in range(2):
        assert caller.post(f"{FS}/runs", json=body).status_code == 201
    engine = caller.http.app.state.context.engine  # type: ignore[attr-defined]
    path = f"{FS}/runs?property=flowId=={file_flow}&limit=1"
    caller.get(path)  # the caller and tenant lookups are cached from here on
    executed: list[tuple[str, bool]] = []

    def capture(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        dbapi = connection.connection.dbapi_connection
        executed.append((statement, bool(getattr(dbapi, "autocommit", False))))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        for page_path in (path, f"{FS}/flows/{file_flow}/runs?limit=1"):
            executed.clear()
            first = caller.get(page_path)
            assert first.status_code == 200 and len(first.json()["items"]) == 1
            selects = [s for s, _ in executed if "FROM runs" in s]
            assert len(selects) == 1, executed
            if database_url.startswith("postgresql"):
                assert all(autocommit for _, autocommit in executed), executed
    finally:
        event.remove(engine, "before_cursor_execute", capture)
