"""Every `_links` href in every answer resolves (200) when followed with the same headers,
walked from a populated server: connections, source and target connections, a dataset
with data, a flow, a run that ran, the specs."""

from __future__ import annotations

import sqlite3
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.config import Settings
from support.api_bodies import (
    CATALOG,
    FS,
    TABLE_FLOW_SPEC,
    created_id,
)
from support.api_runs import make_worker, run_all, start_run
from support.callers import Caller
from support.sample_flows import lake_target, sqlite_table_source

SERVICE_ROOTS = ("/data/foundation/flowservice", "/data/foundation/catalog",
                 "/data/foundation/conversion")


def service_root(path: str) -> str:
    return next(root for root in SERVICE_ROOTS if path.startswith(root))


def follow(href: str, found_at: str) -> str:
    """How a client reads a link: whole paths as they are, others after its service's root
    (base URL + href)."""
    if href.startswith("/data/"):
        return href
    assert href.startswith("/") and not href.startswith("//"), href
    return service_root(found_at) + href


def hrefs(value: Any) -> list[str]:
    """Every href under a `_links` anywhere in a JSON answer."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "_links":
                links = [v for entry in item.values()
                         for v in (entry if isinstance(entry, list) else [entry])]
                found += [str(link["href"]) for link in links]
            else:
                found += hrefs(item)
    elif isinstance(value, list):
        for item in value:
            found += hrefs(item)
    return found


def populate(caller: Caller, settings: Settings) -> list[str]:
    root = Path(settings.allowed_file_roots[0])
    db = root / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, updated_at TIMESTAMP)")
        conn.executemany("INSERT INTO orders VALUES (?, ?)",
                         [(1, "2024-01-01 10:00:00"), (2, "2024-01-01 11:00:00")])
    source, dataset_id = sqlite_table_source(caller, db, "orders", name="shop")
    target = lake_target(caller, dataset_id)
    flow = created_id(caller.post(f"{FS}/flows", json={
        "name": "orders", "flowSpec": {"id": TABLE_FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "transformations": [], "scheduleParams": {"startTime": "9999999999",
                                                  "frequency": "once"}}))
    start_run(caller, flow, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
    assert run_all(make_worker(settings)) == 1
    return [f"{FS}/{kind}" for kind in ("connections", "sourceConnections",
                                        "targetConnections", "flows", "runs",
                                        "connectionSpecs", "flowSpecs")] + [f"{CATALOG}/dataSets"]


def test_every_link_resolves(caller: Caller, settings: Settings) -> None:
    pending = deque((path, path) for path in populate(caller, settings))
    seen: set[str] = set()
    followed: dict[str, str] = {}
    while pending:
        url, came_from = pending.popleft()
        if url in seen:
            continue
        seen.add(url)
        response = caller.get(url)
        assert response.status_code == 200, (url, came_from, response.text[:300])
        for href in hrefs(response.json()):
            target = follow(href, url)
            followed.setdefault(target, url)
            pending.append((target, url))
        assert len(seen) < 500, "the walk does not end"
    kinds = {path.split("?")[0].rsplit("/", 2)[-2] for path in followed}
    assert kinds >= {"connections", "sourceConnections", "targetConnections", "flows", "runs",
                     "dataSets", "connectionSpecs", "flowSpecs"}, kinds
    assert any(path.endswith("/runs") and "/flows/" in path for path in followed)
    assert any(path.endswith("/history") for path in followed)
    dataset_id = next(iter(caller.get(f"{CATALOG}/dataSets").json()))
    stats = caller.get(f"{CATALOG}/dataSets/{dataset_id}/stats").json()
    assert (stats["version"], stats["rowCount"]) == (0, 2) and stats["fileCount"] >= 1
    history = caller.get(f"{CATALOG}/dataSets/{dataset_id}/history").json()["items"]
    assert [commit["version"] for commit in history] == [0]
    assert history[0]["operation"] and history[0]["timestamp"] > 0
