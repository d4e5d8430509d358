"""What the tests that drive flows over the in-process API share: the API's paths, the
built-in specs' ids, the id of a created resource, starting an on-demand run, and a real
worker executing the runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sluice.config import Settings
from sluice.engine.engine_context import engine_context
from sluice.engine.runner import execute_run
from sluice.engine.worker import Worker
from support.api_bodies import created_id as created_id
from support.callers import Caller

FS = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
SQLITE_SPEC = "40a2e097-51aa-4ded-91a4-482c06367e24"
LOCAL_FILES_SPEC = "bc3ffdcf-1b46-41ec-b156-a8c195929f8a"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
TABLE_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
FILE_FLOW_SPEC = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def start_run(caller: Caller, flow: str, start: datetime, end: datetime,
              delta: str | None = "updated_at") -> str:
    """An on-demand run of `flow` over [start, end), on the delta column `delta` if any; its
    id."""
    params: dict[str, Any] = {"startTime": "0", "windowStartTime": str(epoch(start)),
                              "windowEndTime": str(epoch(end))}
    if delta:
        params["deltaColumn"] = {"name": delta}
    response = caller.post(f"{FS}/runs", json={"flowId": flow, "params": params})
    assert response.status_code == 201, response.text
    return str(response.json()["items"][0]["id"])


def make_worker(settings: Settings) -> Worker:
    """A worker executing runs for real on the settings' metadata store."""
    ctx = engine_context(settings)
    return Worker(ctx.sessions, lambda _claim, guard: execute_run(ctx, guard), lease_ms=60_000)


def run_all(worker: Worker) -> int:
    """Execute every due run; how many."""
    executed = 0
    while worker.run_once():
        executed += 1
    return executed
