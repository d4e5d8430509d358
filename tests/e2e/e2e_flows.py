"""Flows built through the HTTP API of a running server, and reading their datasets back."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from sluice.client import SluiceClient

CATALOG = "/data/foundation/catalog"
POSTGRES_SPEC = "1bed8a75-0487-4216-85f5-94ddf2058992"
LOCAL_FILES_SPEC = "bc3ffdcf-1b46-41ec-b156-a8c195929f8a"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
TABLE_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
FILE_FLOW_SPEC = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
DAY = 86_400


@dataclass(frozen=True)
class BuiltFlow:
    flow_id: str
    dataset_id: str


def _id(created: Any) -> str:
    return str(created["id"])


def _once_later() -> dict[str, str]:
    # A `once` flow, as the tutorial requires; its single full-load run is a day away, so
    # only the on-demand runs of the test move data.
    return {"startTime": str(int(time.time()) + DAY), "frequency": "once"}


def _flow(client: SluiceClient, name: str, spec: str, source: str,
          dataset_schema: Sequence[dict[str, str]] | None, options: dict[str, Any]) -> BuiltFlow:
    dataset_body: dict[str, Any] = {"name": name}
    if dataset_schema is not None:
        dataset_body["schema"] = {"fields": list(dataset_schema)}
    dataset_id = _id(client.post(f"{CATALOG}/dataSets", dataset_body))
    target = _id(client.post("targetConnections", {
        "name": f"{name} lake", "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"}}))
    flow = _id(client.post("flows", {
        "name": name, "flowSpec": {"id": spec, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "scheduleParams": _once_later(), "options": options}))
    return BuiltFlow(flow, dataset_id)


def postgres_table_flow(client: SluiceClient, table: str, *,
                        dataset_schema: Sequence[dict[str, str]] | None = None,
                        **options: Any) -> BuiltFlow:
    """PostgreSQL `test` database (Basic Authentication) -> `table` -> a new dataset."""
    base = _id(client.post("connections", {
        "name": f"pg {table}",
        "auth": {"specName": "Basic Authentication", "params": {
            "host": "127.0.0.1", "port": 5432, "database": "test",
            "username": "postgres", "password": "unused-with-trust"}},
        "connectionSpec": {"id": POSTGRES_SPEC, "version": "1.0"}}))
    source = _id(client.post("sourceConnections", {
        "name": f"source {table}", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": table}, "connectionSpec": {"id": POSTGRES_SPEC, "version": "1.0"}}))
    return _flow(client, table, TABLE_FLOW_SPEC, source, dataset_schema, options)


def csv_folder_flow(client: SluiceClient, folder: Path, *,
                    dataset_schema: Sequence[dict[str, str]] | None = None,
                    **options: Any) -> BuiltFlow:
    """The CSV files of a local folder -> a new dataset."""
    base = _id(client.post("connections", {
        "name": f"folder {folder.name}",
        "auth": {"specName": "Local Folder Authentication",
                 "params": {"rootPath": str(folder)}},
        "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}}))
    source = _id(client.post("sourceConnections", {
        "name": f"csv {folder.name}", "baseConnectionId": base,
        "data": {"format": "delimited", "columnDelimiter": ","},
        "params": {"path": "*.csv"}, "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}}))
    return _flow(client, folder.name, FILE_FLOW_SPEC, source, dataset_schema, options)


def create_run(client: SluiceClient, flow_id: str, start: int, end: int,
               delta_column: str | None = None) -> str:
    params: dict[str, Any] = {"startTime": "0", "windowStartTime": str(start),
                              "windowEndTime": str(end)}
    if delta_column is not None:
        params["deltaColumn"] = {"name": delta_column}
    created = client.post("runs", {"flowId": flow_id, "params": params})
    return str(created["items"][0]["id"])


def preview(client: SluiceClient, dataset_id: str, limit: int = 1000) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"{CATALOG}/dataSets/{dataset_id}/preview",
                                      {"limit": limit})
    return body


def delta_path(data_dir: Path, dataset_id: str) -> Path:
    """The dataset's Delta table: `<data dir>/lake/<org>/<sandbox>/<dataset id>`."""
    (path,) = (data_dir / "lake").glob(f"*/*/{dataset_id}")
    return path


def read_table(data_dir: Path, dataset_id: str, columns: Sequence[str]) -> pa.Table:
    """The dataset's current rows, read straight from the Delta table (single-threaded:
    a threaded pyarrow scan can abort the process at exit, see sluice.lake.reader)."""
    dataset = DeltaTable(str(delta_path(data_dir, dataset_id))).to_pyarrow_dataset()
    return dataset.to_table(columns=list(columns), use_threads=False)


def delta_version(data_dir: Path, dataset_id: str) -> int:
    return int(DeltaTable(str(delta_path(data_dir, dataset_id))).version())


def commits(data_dir: Path, dataset_id: str) -> list[dict[str, Any]]:
    """The table's commit infos, oldest first, each with its `version` taken from its log
    file's name (each names its run in `sluice.runId`).

    Read from `_delta_log/` directly rather than `DeltaTable.history()`, whose versions are
    counted back from a separately read latest version and shift when commits land
    meanwhile (delta-io/delta-rs#4488).
    """
    found = []
    for entry in sorted((delta_path(data_dir, dataset_id) / "_delta_log").glob("*.json")):
        for line in entry.read_text().splitlines():
            action = json.loads(line) if line.strip() else {}
            if "commitInfo" in action:
                found.append({**action["commitInfo"], "version": int(entry.stem)})
    return found
