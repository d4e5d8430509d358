"""Sample sources (an orders table, event CSV files) and flows over them, built over HTTP.

One copy for the engine, dashboard and API tests that need a real flow to run."""

from __future__ import annotations

import csv
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support.api_bodies import (
    CATALOG,
    DATA_LAKE_SPEC,
    FS,
    LOCAL_FILES_SPEC,
    SQLITE_SPEC,
    created_id,
)
from support.callers import Caller

BASE = datetime(2024, 5, 1, tzinfo=UTC)
EVENT_COLUMNS = ["event_id", "kind", "amount"]


def make_orders(root: Path, count: int = 48) -> Path:
    """One order per hour from BASE; `updated_at` as SQLite ISO text."""
    path = root / f"orders-{time.monotonic_ns()}.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, "
                     "amount NUMERIC(10,2), updated_at TIMESTAMP)")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", [
            (i, f"c{i % 5}", f"{i}.25", (BASE + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S"))
            for i in range(count)
        ])
    return path


def write_events_csv(path: Path, rows: list[list[str]], modified: datetime) -> None:
    """An events CSV file (header and `rows`), last modified at `modified`."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EVENT_COLUMNS)
        writer.writerows(rows)
    stamp = int(modified.timestamp())
    os.utime(path, (stamp, stamp))


def sqlite_table_source(
    caller: Caller, db: Path, table: str, *, name: str, dataset_name: str | None = None
) -> tuple[str, str]:
    """(source connection, dataset) for reading `table` of the SQLite file `db`."""
    base = created_id(caller.post(f"{FS}/connections", json={
        "name": f"{name} db", "connectionSpec": {"id": SQLITE_SPEC},
        "auth": {"specName": "File Path Authentication", "params": {"path": str(db)}}}))
    source = created_id(caller.post(f"{FS}/sourceConnections", json={
        "name": f"{name} source", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": table}, "connectionSpec": {"id": SQLITE_SPEC}}))
    dataset = {"name": dataset_name or table}
    return source, created_id(caller.post(f"{CATALOG}/dataSets", json=dataset))


def events_csv_source(caller: Caller, folder: Path) -> tuple[str, str]:
    """(source connection, dataset) for reading the events CSV files of `folder`."""
    base = created_id(caller.post(f"{FS}/connections", json={
        "name": "events", "connectionSpec": {"id": LOCAL_FILES_SPEC},
        "auth": {"specName": "Local Folder Authentication", "params": {"rootPath": str(folder)}}}))
    source = created_id(caller.post(f"{FS}/sourceConnections", json={
        "name": "events csv", "baseConnectionId": base,
        "data": {"format": "delimited", "columnDelimiter": ","},
        "params": {"path": "*.csv"}, "connectionSpec": {"id": LOCAL_FILES_SPEC}}))
    dataset_id = created_id(caller.post(f"{CATALOG}/dataSets", json={
        "name": "events", "schema": {"fields": [
            {"name": "event_id", "type": "long"}, {"name": "kind", "type": "string"},
            {"name": "amount", "type": "decimal(10,2)"}]}}))
    return source, dataset_id


def lake_target(caller: Caller, dataset_id: str, name: str = "lake") -> str:
    return created_id(caller.post(f"{FS}/targetConnections", json={
        "name": name, "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"}}))


def once_flow(caller: Caller, name: str, spec: str, source: str, dataset_id: str,
              **options: Any) -> str:
    """A `once` flow from `source` into the dataset (through a new lake target), due in an
    hour: its runs are the ones a test starts."""
    target = lake_target(caller, dataset_id, f"{name} target")
    return created_id(caller.post(f"{FS}/flows", json={
        "name": name, "flowSpec": {"id": spec},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "scheduleParams": {"startTime": str(int(time.time()) + 3600), "frequency": "once"},
        "options": options}))
