"""Flows with mapping sets and schema evolution, driven over HTTP and run by a real worker.

Sources are SQLite files and Parquet files in the test's own folder; the dataset is read back
through the preview endpoint and the catalog.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from sluice.config import Settings
from sluice.engine.worker import Worker
from support.api_runs import (
    CATALOG,
    DATA_LAKE_SPEC,
    FILE_FLOW_SPEC,
    FS,
    LOCAL_FILES_SPEC,
    SQLITE_SPEC,
    TABLE_FLOW_SPEC,
    created_id,
    epoch,
    run_all,
    start_run,
)
from support.callers import Caller

MAPPING_SETS = "/data/foundation/conversion/mappingSets"
BASE = datetime(2024, 5, 1, tzinfo=UTC)


def hour(n: int) -> datetime:
    return BASE + timedelta(hours=n)


def sqlite_table(root: Path, ddl: str, rows: Sequence[Sequence[Any]], name: str = "src.db") -> Path:
    """A SQLite file with table `src` (created by `ddl`) holding `rows`."""
    path = root / name
    with sqlite3.connect(path) as conn:
        conn.execute(ddl)
        marks = ", ".join("?" for _ in rows[0]) if rows else ""
        conn.executemany(f"INSERT INTO src VALUES ({marks})", rows)
    return path


def sqlite_execute(db: Path, *statements: str, rows: Sequence[Sequence[Any]] = ()) -> None:
    with sqlite3.connect(db) as conn:
        for statement in statements:
            conn.execute(statement)
        if rows:
            marks = ", ".join("?" for _ in rows[0])
            conn.executemany(f"INSERT INTO src VALUES ({marks})", rows)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def create_mapping_set(caller: Caller, *mappings: dict[str, Any]) -> str:
    return created_id(caller.post(MAPPING_SETS, json={"name": "m", "mappings": list(mappings)}))


def mapping(mapping_id: str, version: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"mappingId": mapping_id}
    if version is not None:
        params["mappingVersion"] = version
    return {"name": "Mapping", "params": params}


def dataset(caller: Caller, fields: Sequence[tuple[str, str]] | None = None) -> str:
    body: dict[str, Any] = {"name": "mapped"}
    if fields is not None:
        body["schema"] = {"fields": [{"name": n, "type": t} for n, t in fields]}
    return created_id(caller.post(f"{CATALOG}/dataSets", json=body))


def _flow(
    caller: Caller,
    spec: str,
    source: str,
    dataset_id: str,
    transformations: Sequence[dict[str, Any]],
    options: dict[str, Any],
) -> str:
    target = created_id(caller.post(f"{FS}/targetConnections", json={
        "name": "lake", "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC}}))
    return created_id(caller.post(f"{FS}/flows", json={
        "name": "mapped flow", "flowSpec": {"id": spec},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "transformations": list(transformations),
        "scheduleParams": {"startTime": str(epoch(datetime.now(UTC)) + 3600),
                           "frequency": "once"},
        "options": options}))


def _source(caller: Caller, spec: str, names: tuple[str, str], auth: dict[str, Any],
            data: dict[str, Any], params: dict[str, Any]) -> str:
    """A base connection (`auth`) and a source connection on it, named `names`; the source's
    id."""
    base_name, source_name = names
    base = created_id(caller.post(f"{FS}/connections", json={
        "name": base_name, "connectionSpec": {"id": spec}, "auth": auth}))
    return created_id(caller.post(f"{FS}/sourceConnections", json={
        "name": source_name, "baseConnectionId": base, "data": data, "params": params,
        "connectionSpec": {"id": spec}}))


def table_flow(caller: Caller, db: Path, dataset_id: str, *,
               transformations: Sequence[dict[str, Any]] = (), **options: Any) -> str:
    """A flow from table `src` of the SQLite file `db` to the dataset."""
    source = _source(caller, SQLITE_SPEC, ("db", "src"),
                     {"specName": "File Path Authentication", "params": {"path": str(db)}},
                     {"format": "tabular"}, {"tableName": "src"})
    return _flow(caller, TABLE_FLOW_SPEC, source, dataset_id, transformations, options)


def parquet_file(folder: Path, name: str, table: pa.Table, modified: datetime) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pq.write_table(table, path)
    os.utime(path, (epoch(modified), epoch(modified)))
    return path


def parquet_flow(caller: Caller, folder: Path, dataset_id: str, *,
                 transformations: Sequence[dict[str, Any]] = (), **options: Any) -> str:
    """A flow from the Parquet files of `folder` to the dataset."""
    source = _source(caller, LOCAL_FILES_SPEC, ("files", "parquet"),
                     {"specName": "Local Folder Authentication",
                      "params": {"rootPath": str(folder)}},
                     {"format": "parquet"}, {"path": "*.parquet"})
    return _flow(caller, FILE_FLOW_SPEC, source, dataset_id, transformations, options)


def run_once(
    caller: Caller,
    worker: Worker,
    flow: str,
    start: datetime,
    end: datetime,
    delta: str | None = "updated_at",
) -> dict[str, Any]:
    """Start a run over [start, end), execute it, and return it."""
    run_id = start_run(caller, flow, start, end, delta)
    assert run_all(worker) == 1
    return get_run(caller, run_id)


def get_run(caller: Caller, run_id: str) -> dict[str, Any]:
    return dict(caller.get(f"{FS}/runs/{run_id}").json()["items"][0])


def status(run: dict[str, Any]) -> str:
    return str(run["metrics"]["statusSummary"]["status"])


def error(run: dict[str, Any]) -> dict[str, str]:
    errors = run["metrics"]["statusSummary"]["errors"]
    assert errors, run["metrics"]
    return dict(errors[0])


def bad_rows(caller: Caller, run_id: str) -> list[dict[str, Any]]:
    return list(caller.get(f"{FS}/runs/{run_id}/badRows").json()["items"])


def rows(caller: Caller, dataset_id: str, key: str) -> list[dict[str, Any]]:
    """The dataset's rows without system columns, ordered by `key`."""
    response = caller.get(f"{CATALOG}/dataSets/{dataset_id}/preview?limit=1000")
    assert response.status_code == 200, response.text
    found = [
        {k: v for k, v in row.items() if not k.startswith("_sluice_")}
        for row in response.json()["rows"]
    ]
    return sorted(found, key=lambda row: row[key])


def catalog_fields(caller: Caller, dataset_id: str) -> list[tuple[str, str]] | None:
    item = caller.get(f"{CATALOG}/dataSets/{dataset_id}").json()[dataset_id]
    schema = item.get("schema")
    return None if schema is None else [(f["name"], f["type"]) for f in schema["fields"]]


def table_path(settings: Settings, caller: Caller, dataset_id: str) -> Path:
    item = caller.get(f"{CATALOG}/dataSets/{dataset_id}").json()[dataset_id]
    return Path(settings.lake_dir) / item["imsOrg"] / item["sandboxId"] / dataset_id


def table(settings: Settings, caller: Caller, dataset_id: str) -> DeltaTable | None:
    location = table_path(settings, caller, dataset_id)
    return DeltaTable(str(location)) if (location / "_delta_log").exists() else None


def table_columns(settings: Settings, caller: Caller, dataset_id: str) -> dict[str, pa.DataType]:
    delta = table(settings, caller, dataset_id)
    assert delta is not None
    schema = pa.schema(delta.schema().to_arrow())
    return {f.name: f.type for f in schema if not f.name.startswith("_sluice_")}


def table_version(settings: Settings, caller: Caller, dataset_id: str) -> int | None:
    delta = table(settings, caller, dataset_id)
    return None if delta is None else delta.version()
