"""Helpers of the dashboard tests: logging in, posting forms, and building real flows."""

from __future__ import annotations

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
    FILE_FLOW_SPEC,
    FS,
    TABLE_FLOW_SPEC,
    make_worker,
    run_all,
)
from support.callers import Caller
from support.sample_flows import (
    BASE,
    events_csv_source,
    make_orders,
    once_flow,
    sqlite_table_source,
    write_events_csv,
)

ORIGIN = "http://testserver"
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


@dataclass(frozen=True)
class BuiltFlow:
    flow_id: str
    dataset_id: str
    source_path: Path


def orders_flow(caller: Caller, settings: Settings, name: str = "orders flow",
                dataset_name: str = "orders") -> BuiltFlow:
    """A SQLite table flow without a delta column yet (its first windowed run gives one)."""
    db = make_orders(Path(settings.allowed_file_roots[0]))
    source, dataset_id = sqlite_table_source(caller, db, "orders", name=name,
                                             dataset_name=dataset_name)
    return BuiltFlow(once_flow(caller, name, TABLE_FLOW_SPEC, source, dataset_id), dataset_id, db)


def events_flow(caller: Caller, settings: Settings, rows: list[list[str]]) -> BuiltFlow:
    """A CSV file flow with error diagnostics on; one file modified an hour after BASE."""
    folder = Path(settings.allowed_file_roots[0]) / f"events-{time.monotonic_ns()}"
    folder.mkdir()
    write_events_csv(folder / "a.csv", rows, BASE + timedelta(hours=1))
    source, dataset_id = events_csv_source(caller, folder)
    flow_id = once_flow(caller, "events flow", FILE_FLOW_SPEC, source, dataset_id,
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


def rename_orders_table(built: BuiltFlow, old: str, new: str) -> None:
    """Rename the orders flow's source table: `orders` -> `hidden` makes a run reading it fail
    (and `hidden` -> `orders` brings it back)."""
    with sqlite3.connect(built.source_path) as conn:
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")


def failed_run(caller: Caller, settings: Settings, built: BuiltFlow, end: datetime) -> str:
    """A run of the orders flow over [BASE, end) that failed: its table is there when the run
    is created (its delta column is checked then) and renamed to `hidden` when the worker
    reads it."""
    run_id = start_api_run(caller, built.flow_id, BASE, end)
    rename_orders_table(built, "orders", "hidden")
    run_all(make_worker(settings))
    return run_id


def run_status(caller: Caller, run_id: str) -> str:
    item = caller.get(f"{FS}/runs/{run_id}").json()["items"][0]
    return str(item["metrics"]["statusSummary"]["status"])
