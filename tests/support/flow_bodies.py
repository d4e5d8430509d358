"""Builds the resources a flow needs, over HTTP."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from support.api_bodies import (
    CATALOG,
    FILE_FLOW_SPEC,
    FS,
    LOCAL_FILES_SPEC,
    TABLE_FLOW_SPEC,
    created_id,
    dataset,
    sqlite_connection,
    sqlite_file,
    table_source,
    target,
)
from support.callers import Caller


def table_flow_parts(caller: Caller, root: Path) -> tuple[str, str, str]:
    """(base connection, source connection, target connection) for a SQLite table flow."""
    base = created_id(caller.post(f"{FS}/connections", json=sqlite_connection(sqlite_file(root))))
    source = created_id(caller.post(f"{FS}/sourceConnections", json=table_source(base)))
    dataset_id = created_id(caller.post(f"{CATALOG}/dataSets", json=dataset()))
    target_id = created_id(caller.post(f"{FS}/targetConnections", json=target(dataset_id)))
    return base, source, target_id


def file_flow_parts(caller: Caller, root: Path) -> tuple[str, str]:
    folder = root / "events"
    folder.mkdir(exist_ok=True)
    base = created_id(
        caller.post(
            f"{FS}/connections",
            json={
                "name": "events folder",
                "auth": {
                    "specName": "Local Folder Authentication",
                    "params": {"rootPath": str(folder)},
                },
                "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"},
            },
        )
    )
    source = created_id(
        caller.post(
            f"{FS}/sourceConnections",
            json={
                "name": "events csv",
                "baseConnectionId": base,
                "data": {"format": "delimited", "columnDelimiter": ","},
                "params": {"path": "*.csv", "recursive": "false"},
                "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"},
            },
        )
    )
    dataset_id = created_id(caller.post(f"{CATALOG}/dataSets", json={"name": "events"}))
    target_id = created_id(caller.post(f"{FS}/targetConnections", json=target(dataset_id)))
    return source, target_id


def flow_body(
    source: str,
    target_id: str,
    *,
    spec: str = TABLE_FLOW_SPEC,
    schedule: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    start = int(time.time()) + 3600
    return {
        "name": "orders flow",
        "description": "orders into the lake",
        "flowSpec": {"id": spec, "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target_id],
        "transformations": [],
        "scheduleParams": schedule or {"startTime": str(start), "frequency": "once"},
        **extra,
    }


FILE_SPEC = FILE_FLOW_SPEC
