"""Creating run rows: shared by on-demand requests, re-triggers and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sluice.domain.run_states import SCHEDULED
from sluice.domain.windows import Window
from sluice.store.clock import new_etag, new_id, now_ms
from sluice.store.models import Flow, Run

SCHEDULER_CLIENT = "sluice-scheduler"


@dataclass(frozen=True)
class NewRun:
    """What a new run needs beyond its flow."""

    origin: str  # "onDemand" | "schedule" | "retrigger"
    start_at: int  # epoch seconds
    window: Window | None
    delta_column: str | None = None
    tick: int | None = None
    retry_of: str | None = None
    params: dict[str, Any] | None = None
    # File sources: the exact files to read (a re-trigger reads the original run's files).
    files: list[dict[str, Any]] | None = None


def empty_metrics() -> dict[str, Any]:
    return {
        "durationSummary": {},
        "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
        "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
        "fileSummary": {"inputFileCount": 0, "outputFileCount": 0},
        "statusSummary": {"status": SCHEDULED, "errors": [], "activityRefs": []},
    }


def run_row(flow: Flow, new: NewRun, *, actor: str) -> dict[str, Any]:
    """Column values of a new run row (for ORM construction or a bulk insert)."""
    stamp = now_ms()
    run_id = new_id()
    params = new.params if new.params is not None else _default_params(new)
    doc: dict[str, Any] = {
        "flowSpec": flow.doc["flowSpec"],
        "params": params,
        "metrics": empty_metrics(),
        "activities": [],
        "providerRefId": f"M-{flow.id}-{new.origin}-{new.tick or 0}:{run_id}",
    }
    if new.files is not None:
        doc["files"] = new.files
    return {
        "id": run_id,
        "org_id": flow.org_id,
        "sandbox_id": flow.sandbox_id,
        "name": flow.name,
        "created_at": stamp,
        "updated_at": stamp,
        "created_by": actor,
        "updated_by": actor,
        "created_client": actor,
        "updated_client": actor,
        "etag": new_etag(),
        "doc": doc,
        "flow_id": flow.id,
        "status": SCHEDULED,
        "origin": new.origin,
        "start_at": new.start_at,
        "window_start": new.window.start if new.window else None,
        "window_end": new.window.end if new.window else None,
        "delta_column": new.delta_column,
        "tick": new.tick,
        "retry_of": new.retry_of,
        "attempt": 0,
        "cancel_requested": False,
        "output_records": 0,
    }


def _default_params(new: NewRun) -> dict[str, Any]:
    params: dict[str, Any] = {"startTime": new.start_at}
    if new.window is not None:
        params["windowStartTime"] = new.window.start
        params["windowEndTime"] = new.window.end
    if new.delta_column:
        params["deltaColumn"] = {"name": new.delta_column}
    return params


def add_run(session: Session, flow: Flow, new: NewRun, *, actor: str) -> Run:
    run = Run(**run_row(flow, new, actor=actor))
    session.add(run)
    session.flush()
    return run
