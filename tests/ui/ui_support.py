"""Helpers of the dashboard tests: logging in, posting forms, and building real flows."""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sluice.config import Settings
from support.api_runs import (
    CATALOG,
    DATA_LAKE_SPEC,
    FILE_FLOW_SPEC,
    FS,
    LOCAL_FILES_SPEC,
    SQLITE_SPEC,
    TABLE_FLOW_SPEC,
    created_id,
)
from support.callers import Caller

ORIGIN = "http://testserver"
BASE = datetime(2024, 5, 1, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_in(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(http: TestClient, caller: Caller) -> str:
    """Log in through the form as a browser would; the session's CSRF token."""
    form = http.get("/ui/login")
    response = http.post(
        "/ui/login",
        data={"csrf_token": csrf_in(form.text), "client_id": caller.client_id,
              "client_secret": caller.client_secret, "next": "/ui/flows"},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_in(http.get("/ui/flows").text)


def post_form(http: TestClient, path: str, csrf: str | None, **fields: str) -> Any:
    data = dict(fields)
    if csrf is not None:
        data["csrf_token"] = csrf
    return http.post(path, data=data, headers={"Origin": ORIGIN}, follow_redirects=False)


def utc_input(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


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


@dataclass(frozen=True)
class BuiltFlow:
    flow_id: str
    dataset_id: str
    source_path: Path


def _flow(caller: Caller, name: str, spec: str, source: str, dataset_id: str,
          **options: Any) -> str:
    target = created_id(caller.post(f"{FS}/targetConnections", json={
        "name": f"{name} target", "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC}}))
    return created_id(caller.post(f"{FS}/flows", json={
        "name": name, "flowSpec": {"id": spec},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "scheduleParams": {"startTime": str(int(time.time()) + 3600), "frequency": "once"},
        "options": options}))


def orders_flow(caller: Caller, settings: Settings, name: str = "orders flow",
                dataset_name: str = "orders") -> BuiltFlow:
    """A SQLite table flow without a delta column yet (its first windowed run gives one)."""
    db = make_orders(Path(settings.allowed_file_roots[0]))
    base = created_id(caller.post(f"{FS}/connections", json={
        "name": f"{name} db", "connectionSpec": {"id": SQLITE_SPEC},
        "auth": {"specName": "File Path Authentication", "params": {"path": str(db)}}}))
    source = created_id(caller.post(f"{FS}/sourceConnections", json={
        "name": f"{name} source", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": "orders"}, "connectionSpec": {"id": SQLITE_SPEC}}))
    dataset_id = created_id(caller.post(f"{CATALOG}/dataSets", json={"name": dataset_name}))
    return BuiltFlow(_flow(caller, name, TABLE_FLOW_SPEC, source, dataset_id), dataset_id, db)


def events_flow(caller: Caller, settings: Settings, rows: list[list[str]]) -> BuiltFlow:
    """A CSV file flow with error diagnostics on; one file modified an hour after BASE."""
    folder = Path(settings.allowed_file_roots[0]) / f"events-{time.monotonic_ns()}"
    folder.mkdir()
    path = folder / "a.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "kind", "amount"])
        writer.writerows(rows)
    modified = int((BASE + timedelta(hours=1)).timestamp())
    os.utime(path, (modified, modified))
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
    flow_id = _flow(caller, "events flow", FILE_FLOW_SPEC, source, dataset_id,
                    errorDiagnosticsEnabled=True, partialIngestionPercent=50)
    return BuiltFlow(flow_id, dataset_id, folder)


def start_api_run(caller: Caller, flow_id: str, start: datetime, end: datetime,
                  delta: str | None = "updated_at") -> str:
    params: dict[str, Any] = {"windowStartTime": str(int(start.timestamp())),
                              "windowEndTime": str(int(end.timestamp()))}
    if delta:
        params["deltaColumn"] = {"name": delta}
    response = caller.post(f"{FS}/runs", json={"flowId": flow_id, "params": params})
    assert response.status_code == 201, response.text
    return str(response.json()["items"][0]["id"])


def run_status(caller: Caller, run_id: str) -> str:
    item = caller.get(f"{FS}/runs/{run_id}").json()["items"][0]
    return str(item["metrics"]["statusSummary"]["status"])
