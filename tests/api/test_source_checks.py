"""Creating a source connection checks that its table or path exists when the source can be
reached (FLOW-1493-400 naming it, nothing created); an unreachable source is accepted with a
warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.api_bodies import (
    FS,
    LOCAL_FILES_SPEC,
    POSTGRES_SPEC,
    created_id,
    postgres_connection,
    sqlite_connection,
    sqlite_file,
    table_source,
)
from support.callers import Caller, error_code
from support.net import closed_port


def _count(caller: Caller) -> int:
    return int(caller.get(f"{FS}/sourceConnections?count=true").json()["count"])


def _refused(response: Any, name: str) -> None:
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1493-400"
    assert name in response.json()["report"]["detailed-message"]


def test_a_missing_table_is_refused_and_an_existing_one_accepted(
    caller: Caller, settings: Any
) -> None:
    db = sqlite_file(Path(settings.allowed_file_roots[0]))
    base = created_id(caller.post(f"{FS}/connections", json=sqlite_connection(db)))
    _refused(caller.post(f"{FS}/sourceConnections", json=table_source(base, "no_such")),
             "no_such")
    assert _count(caller) == 0
    accepted = caller.post(f"{FS}/sourceConnections", json=table_source(base, "orders"))
    assert accepted.status_code == 201 and "warnings" not in accepted.json()
    # A patch that points it at a missing table is refused the same way.
    source_id = accepted.json()["id"]
    patched = caller.patch(
        f"{FS}/sourceConnections/{source_id}",
        json=[{"op": "replace", "path": "/params/tableName", "value": "gone"}],
        headers={"If-Match": accepted.json()["etag"]},
    )
    _refused(patched, "gone")


def test_a_file_path_must_exist_up_to_its_glob(caller: Caller, settings: Any) -> None:
    root = Path(settings.allowed_file_roots[0]) / "landing"
    (root / "in").mkdir(parents=True)
    base = created_id(caller.post(f"{FS}/connections", json={
        "name": "landing", "auth": {"specName": "Local Folder Authentication",
                                    "params": {"rootPath": str(root)}},
        "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}}))

    def source(path: str) -> Any:
        return caller.post(f"{FS}/sourceConnections", json={
            "name": path, "baseConnectionId": base,
            "data": {"format": "delimited"}, "params": {"path": path},
            "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}})

    _refused(source("nowhere/*.csv"), "nowhere")
    _refused(source("in/today.csv"), "in/today.csv")
    assert _count(caller) == 0
    # An existing folder, or a glob in one, is accepted before any file arrives.
    assert source("in").status_code == 201
    assert source("in/*.csv").status_code == 201


def test_an_unreachable_source_is_accepted_with_a_warning_a_reachable_one_checked(
    caller: Caller,
) -> None:
    down = postgres_connection("down")
    down["auth"]["params"]["port"] = closed_port()
    down_id = created_id(caller.post(f"{FS}/connections", json=down))
    accepted = caller.post(f"{FS}/sourceConnections",
                           json=table_source(down_id, "anything", spec=POSTGRES_SPEC))
    assert accepted.status_code == 201, accepted.text
    [warning] = accepted.json()["warnings"]
    assert "could not be checked" in warning
    assert "s3cr3t" not in accepted.text
    up_id = created_id(caller.post(f"{FS}/connections", json=postgres_connection("up")))
    _refused(caller.post(f"{FS}/sourceConnections",
                         json=table_source(up_id, "public.no_such_table_xyz", spec=POSTGRES_SPEC)),
             "no_such_table_xyz")
    assert _count(caller) == 1
