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

from sluice.client import Created, SluiceClient
from sluice.lake.schema import SYSTEM_COLUMN_NAMES
from support.api_bodies import (
    CATALOG,
    DATA_LAKE_SPEC,
    FILE_FLOW_SPEC,
    LOCAL_FILES_SPEC,
    POSTGRES_SPEC,
    TABLE_FLOW_SPEC,
)

DAY = 86_400


@dataclass(frozen=True)
class BuiltFlow:
    flow_id: str
    dataset_id: str


def _id(created: Any) -> str:
    return Created.from_body(created).id


def _once_later() -> dict[str, str]:
    # A `once` flow, as the tutorial requires; its single full-load run is a day away, so
    # only the on-demand runs of the test move data.
    return {"startTime": str(int(time.time()) + DAY), "frequency": "once"}


def create_connection(client: SluiceClient, name: str, spec_id: str,
                      auth: dict[str, Any]) -> str:
    """A base connection (`auth` is `{"specName": ..., "params": {...}}`); its id."""
    return _id(client.post("connections", {
        "name": name, "auth": auth, "connectionSpec": {"id": spec_id, "version": "1.0"}}))


def create_source_connection(client: SluiceClient, name: str, spec_id: str, base_id: str,
                             source: dict[str, Any]) -> str:
    """A source connection on `base_id` (`source` is `{"data": {...}, "params": {...}}`)."""
    return _id(client.post("sourceConnections", {
        "name": name, "baseConnectionId": base_id, "data": source.get("data", {}),
        "params": source.get("params", {}),
        "connectionSpec": {"id": spec_id, "version": "1.0"}}))


def flow_to_new_dataset(client: SluiceClient, name: str, spec: str, source: str,
                        dataset_schema: Sequence[dict[str, str]] | None,
                        options: dict[str, Any]) -> BuiltFlow:
    """A new dataset, a data-lake target on it, and a `once` flow (`spec`) from `source`."""
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
    base = create_connection(client, f"pg {table}", POSTGRES_SPEC, {
        "specName": "Basic Authentication", "params": {
            "host": "127.0.0.1", "port": 5432, "database": "test",
            "username": "postgres", "password": "unused-with-trust"}})
    source = create_source_connection(client, f"source {table}", POSTGRES_SPEC, base, {
        "data": {"format": "tabular"}, "params": {"tableName": table}})
    return flow_to_new_dataset(client, table, TABLE_FLOW_SPEC, source, dataset_schema, options)


def csv_folder_flow(client: SluiceClient, folder: Path, *,
                    dataset_schema: Sequence[dict[str, str]] | None = None,
                    **options: Any) -> BuiltFlow:
    """The CSV files of a local folder -> a new dataset."""
    base = create_connection(client, f"folder {folder.name}", LOCAL_FILES_SPEC, {
        "specName": "Local Folder Authentication", "params": {"rootPath": str(folder)}})
    source = create_source_connection(client, f"csv {folder.name}", LOCAL_FILES_SPEC, base, {
        "data": {"format": "delimited", "columnDelimiter": ","}, "params": {"path": "*.csv"}})
    return flow_to_new_dataset(client, folder.name, FILE_FLOW_SPEC, source, dataset_schema,
                               options)


def source_flow(client: SluiceClient, name: str, spec_id: str, auth: dict[str, Any],
                source: dict[str, Any], flow_spec: str = FILE_FLOW_SPEC) -> BuiltFlow:
    """A base connection (`auth`), a source connection on it (`source`) and a `once` flow
    (`flow_spec`) to a new dataset."""
    base = create_connection(client, f"{name} connection", spec_id, auth)
    source_id = create_source_connection(client, f"{name} source", spec_id, base, source)
    return flow_to_new_dataset(client, name, flow_spec, source_id, None, {})


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


def read_dataset(data_dir: Path, dataset_id: str) -> pa.Table:
    """All the dataset's current rows, without the `_sluice_*` system columns."""
    dataset = DeltaTable(str(delta_path(data_dir, dataset_id))).to_pyarrow_dataset()
    columns = [name for name in dataset.schema.names if name not in SYSTEM_COLUMN_NAMES]
    return read_table(data_dir, dataset_id, columns)


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
