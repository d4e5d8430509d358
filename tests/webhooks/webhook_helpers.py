"""Bodies and steps shared by the webhook tests: a SQLite orders table, a flow, runs."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sluice.config import Settings
from sluice.engine.engine_context import EngineContext
from sluice.webhooks.dispatcher import DeliveryPolicy, WebhookDispatcher
from support.api_runs import CATALOG, DATA_LAKE_SPEC, FS, SQLITE_SPEC, TABLE_FLOW_SPEC, created_id

Caller = Any  # tests/conftest.py's Caller: the API as one org's client

WEBHOOKS = f"{FS}/webhooks"
SECRET = "whsec-0123456789-abcdef-never-shown"
BASE = datetime(2024, 5, 1, tzinfo=UTC)


def make_orders(root: Path, count: int = 24, name: str = "orders.db") -> Path:
    path = root / name
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, updated_at TIMESTAMP)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?)",
            [(i, (BASE + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S")) for i in range(count)],
        )
    return path


def table_flow(caller: Caller, db: Path, name: str = "orders flow", **options: Any) -> str:
    base = created_id(caller.post(f"{FS}/connections", json={
        "name": "orders db", "connectionSpec": {"id": SQLITE_SPEC},
        "auth": {"specName": "File Path Authentication", "params": {"path": str(db)}}}))
    source = created_id(caller.post(f"{FS}/sourceConnections", json={
        "name": "orders", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": "orders"}, "connectionSpec": {"id": SQLITE_SPEC}}))
    dataset = created_id(caller.post(f"{CATALOG}/dataSets", json={"name": f"{name} data"}))
    target = created_id(caller.post(f"{FS}/targetConnections", json={
        "name": "lake", "params": {"dataSetId": dataset},
        "connectionSpec": {"id": DATA_LAKE_SPEC}}))
    start = int(datetime.now(UTC).timestamp()) + 3600
    return created_id(caller.post(f"{FS}/flows", json={
        "name": name, "flowSpec": {"id": TABLE_FLOW_SPEC},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "scheduleParams": {"startTime": str(start), "frequency": "once"}, "options": options}))


def start_run(caller: Caller, flow: str, hours: tuple[int, int] = (0, 12)) -> str:
    start, end = (int((BASE + timedelta(hours=h)).timestamp()) for h in hours)
    response = caller.post(f"{FS}/runs", json={"flowId": flow, "params": {
        "startTime": "0", "windowStartTime": str(start), "windowEndTime": str(end),
        "deltaColumn": {"name": "updated_at"}}})
    assert response.status_code == 201, response.text
    return str(response.json()["items"][0]["id"])


def flow_with_run(caller: Caller, settings: Settings, **options: Any) -> tuple[str, str]:
    """A flow over a new orders table in the allowed root, and a run of it; their ids."""
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow = table_flow(caller, db, **options)
    return flow, start_run(caller, flow)


def subscribe(caller: Caller, url: str, events: list[str] | None = None, **fields: Any) -> str:
    body = {"name": "ops", "url": url, "secret": SECRET,
            "events": events or ["flow_run_started", "flow_run_success", "flow_run_failed",
                                 "flow_run_delayed"], **fields}
    return created_id(caller.post(WEBHOOKS, json=body))


def deliveries(caller: Caller, webhook_id: str, **params: Any) -> dict[str, Any]:
    response = caller.get(f"{WEBHOOKS}/{webhook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def make_dispatcher(engine: EngineContext, **policy: float) -> WebhookDispatcher:
    values = {"timeout_seconds": 2.0, "backoff_seconds": 60.0, "max_attempts": 3.0, **policy}
    return WebhookDispatcher(
        engine.sessions,
        engine.secret_box,
        DeliveryPolicy(
            timeout_seconds=values["timeout_seconds"],
            backoff_seconds=values["backoff_seconds"],
            max_attempts=int(values["max_attempts"]),
            jitter=0.0,
        ),
    )
