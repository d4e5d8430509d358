"""The demo's resources, created through the HTTP API like any user would, once each.

Every resource is looked up by name first, so running this again (every `sluice serve`)
creates only what is missing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluice.client import CATALOG_PATH, Created, SluiceClient
from sluice.config import Settings
from sluice.demo.data import write_event_files, write_shop_db

DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
TABLE_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"  # CRMToAEP
FILE_FLOW_SPEC_ID = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"  # CloudStorageToAEP
ORDERS_FLOW = "Demo orders (SQLite)"
EVENTS_FLOW = "Demo events (CSV)"
# The flows run once, this long after they are created (the API refuses a start in the past).
START_DELAY_SECONDS = 5


@dataclass(frozen=True)
class DemoFiles:
    shop_db: Path
    events_dir: Path


@dataclass(frozen=True)
class DemoResult:
    files: DemoFiles
    flow_ids: dict[str, str]
    created: tuple[str, ...]  # names of the resources this call created


DEMO_EXPECTATIONS = {"minRowsPerRun": 1, "maxAgeWithoutSuccess": {"value": 1, "unit": "day"}}


def demo_files(settings: Settings) -> DemoFiles:
    base = settings.data_dir / "files" / "demo"
    return DemoFiles(shop_db=base / "shop.db", events_dir=base / "events")


def write_demo_files(settings: Settings) -> DemoFiles:
    files = demo_files(settings)
    write_shop_db(files.shop_db)
    write_event_files(files.events_dir)
    return files


class _Provisioner:
    def __init__(self, client: SluiceClient) -> None:
        self.client = client
        self.created: list[str] = []

    def spec_id(self, name: str) -> str:
        found = self.find("connectionSpecs", name)
        if found is None:
            raise LookupError(f"the server has no connection spec named {name!r}")
        return found

    def find(self, path: str, name: str) -> str | None:
        escaped = name.replace('"', "")
        for item in self.client.iter_list(path, property=[f'name=="{escaped}"'], limit=10):
            if item.get("name") == name:
                return str(item["id"])
        return None

    def ensure(self, path: str, name: str, body: Callable[[], dict[str, Any]]) -> str:
        existing = self.find(path, name)
        if existing is not None:
            return existing
        response = self.client.post(path, {"name": name, **body()})
        self.created.append(name)
        return Created.from_body(response).id


def _spec(spec_id: str) -> dict[str, str]:
    return {"id": spec_id, "version": "1.0"}


def setup_demo(client: SluiceClient, settings: Settings) -> DemoResult:
    """Sample files, then connections, datasets, source and target connections and two
    run-once flows: SQLite orders into "Demo orders", CSV events into "Demo events"."""
    files = write_demo_files(settings)
    p = _Provisioner(client)
    sqlite_spec, files_spec = p.spec_id("SQLite"), p.spec_id("Local Files")
    datasets = f"{CATALOG_PATH}/dataSets"

    shop = p.ensure(
        "connections",
        "Demo shop database",
        lambda: {
            "description": "The demo's SQLite shop database.",
            "auth": {
                "specName": "File Path Authentication",
                "params": {"path": str(files.shop_db)},
            },
            "connectionSpec": _spec(sqlite_spec),
        },
    )
    events = p.ensure(
        "connections",
        "Demo events folder",
        lambda: {
            "description": "The demo's folder of event CSV files.",
            "auth": {
                "specName": "Local Folder Authentication",
                "params": {"rootPath": str(files.events_dir)},
            },
            "connectionSpec": _spec(files_spec),
        },
    )
    orders_ds = p.ensure(
        datasets, "Demo orders", lambda: {"description": "Orders from the demo shop database."}
    )
    events_ds = p.ensure(
        datasets, "Demo events", lambda: {"description": "Events from the demo CSV files."}
    )
    orders_src = p.ensure(
        "sourceConnections",
        "Demo orders table",
        lambda: {
            "baseConnectionId": shop,
            "connectionSpec": _spec(sqlite_spec),
            "data": {"format": "tabular"},
            "params": {"tableName": "orders"},
        },
    )
    events_src = p.ensure(
        "sourceConnections",
        "Demo event files",
        lambda: {
            "baseConnectionId": events,
            "connectionSpec": _spec(files_spec),
            "data": {"format": "delimited", "columnDelimiter": ","},
            "params": {"path": "*.csv", "recursive": False},
        },
    )
    orders_tgt = p.ensure(
        "targetConnections",
        "Demo orders dataset",
        lambda: {"connectionSpec": _spec(DATA_LAKE_SPEC_ID), "params": {"dataSetId": orders_ds}},
    )
    events_tgt = p.ensure(
        "targetConnections",
        "Demo events dataset",
        lambda: {"connectionSpec": _spec(DATA_LAKE_SPEC_ID), "params": {"dataSetId": events_ds}},
    )

    def flow(spec_id: str, source: str, target: str, description: str) -> dict[str, Any]:
        return {
            "description": description,
            "flowSpec": _spec(spec_id),
            "sourceConnectionIds": [source],
            "targetConnectionIds": [target],
            "transformations": [],
            "scheduleParams": {
                "startTime": str(int(time.time()) + START_DELAY_SECONDS),
                "frequency": "once",
            },
            # The demo shows the silent-failure alerts: an empty window, or a day without a
            # success, raises flow_expectation_failed and the dashboard badge.
            "options": {"expectations": DEMO_EXPECTATIONS},
        }

    flow_ids = {
        ORDERS_FLOW: p.ensure(
            "flows",
            ORDERS_FLOW,
            lambda: flow(
                TABLE_FLOW_SPEC_ID,
                orders_src,
                orders_tgt,
                "Full load of the demo orders; add windows with on-demand runs (deltaColumn "
                "updated_at).",
            ),
        ),
        EVENTS_FLOW: p.ensure(
            "flows",
            EVENTS_FLOW,
            lambda: flow(
                FILE_FLOW_SPEC_ID,
                events_src,
                events_tgt,
                "Full load of the demo event files; add windows with on-demand runs.",
            ),
        ),
    }
    return DemoResult(files=files, flow_ids=flow_ids, created=tuple(p.created))
