"""The run events a webhook can subscribe to, and the JSON document each delivery carries."""

from __future__ import annotations

from typing import Any

from sluice.domain.run_states import FAILED, SUCCESS
from sluice.store.models import Run

FLOW_RUN_STARTED = "flow_run_started"
FLOW_RUN_SUCCESS = "flow_run_success"
FLOW_RUN_FAILED = "flow_run_failed"
FLOW_RUN_DELAYED = "flow_run_delayed"
# A successful run whose source count did not match what it landed (sluice.engine.reconciliation).
FLOW_RUN_RECONCILIATION_MISMATCH = "flow_run_reconciliation_mismatch"
# A run below the flow's minRowsPerRun, or a flow without success for maxAgeWithoutSuccess.
FLOW_EXPECTATION_FAILED = "flow_expectation_failed"
EVENT_TYPES: tuple[str, ...] = (
    FLOW_RUN_STARTED,
    FLOW_RUN_SUCCESS,
    FLOW_RUN_FAILED,
    FLOW_RUN_DELAYED,
    FLOW_RUN_RECONCILIATION_MISMATCH,
    FLOW_EXPECTATION_FAILED,
)
RUNS_PATH = "/data/foundation/flowservice/runs"
FLOWS_PATH = "/data/foundation/flowservice/flows"

_END_EVENTS: dict[str, str] = {SUCCESS: FLOW_RUN_SUCCESS, FAILED: FLOW_RUN_FAILED}


def end_event(status: str) -> str | None:
    """The event reporting a run that ended with `status` (a cancelled run reports none)."""
    return _END_EVENTS.get(status)


def run_event_payload(
    *,
    event_id: str,
    event_type: str,
    created_at: int,
    run: Run,
    flow_name: str,
    sandbox_name: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the receiver gets: the run as it stood when the event was recorded."""
    metrics = run.doc.get("metrics") or {}
    status_summary = metrics.get("statusSummary") or {}
    data: dict[str, Any] = {
        "flowId": run.flow_id,
        "flowName": flow_name,
        "runId": run.id,
        "status": run.status,
        "origin": run.origin,
        "attempt": run.attempt,
        "windowStartTime": run.window_start,
        "windowEndTime": run.window_end,
        "startedAtUTC": run.started_at,
        "completedAtUTC": run.completed_at,
        "recordSummary": metrics.get("recordSummary") or {},
        "sizeSummary": metrics.get("sizeSummary") or {},
        "fileSummary": {
            k: v for k, v in (metrics.get("fileSummary") or {}).items() if k != "activityRefs"
        },
        "errors": list(status_summary.get("errors") or []),
        "deltaVersion": run.committed_version,
        **(extra or {}),
    }
    return {
        "id": event_id,
        "type": event_type,
        "createdAt": created_at,
        "imsOrgId": run.org_id,
        "sandboxId": run.sandbox_id,
        "sandboxName": sandbox_name,
        "data": data,
        "_links": {"run": {"href": f"{RUNS_PATH}/{run.id}"}},
    }


def flow_event_payload(
    *,
    event_id: str,
    event_type: str,
    created_at: int,
    org_id: str,
    sandbox_id: str,
    sandbox_name: str,
    flow_id: str,
    flow_name: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """An event about a flow rather than one of its runs (an overdue flow)."""
    return {
        "id": event_id,
        "type": event_type,
        "createdAt": created_at,
        "imsOrgId": org_id,
        "sandboxId": sandbox_id,
        "sandboxName": sandbox_name,
        "data": {"flowId": flow_id, "flowName": flow_name, **data},
        "_links": {"flow": {"href": f"{FLOWS_PATH}/{flow_id}"}},
    }
