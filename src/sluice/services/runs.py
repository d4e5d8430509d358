"""Flow runs: on-demand creation with the reference's rules, reads, re-trigger and cancel."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import SourceReadError
from sluice.domain.copy_transformation import delta_column_of
from sluice.domain.errors import bad_request
from sluice.domain.flow_specs import find_flow_spec
from sluice.domain.run_params import parse_run_request
from sluice.domain.run_states import IN_PROGRESS, SCHEDULED, SUCCESS, can_retrigger
from sluice.domain.tenancy import Tenant
from sluice.domain.windows import Window
from sluice.schemas.system_fields import system_view
from sluice.security.encryption import SecretBox
from sluice.services.connection_states import (
    first_disabled,
    refuse_disabled_connection,
)
from sluice.services.flows import flows
from sluice.store import run_transitions
from sluice.store.clock import now_ms
from sluice.store.connection_state import flow_and_connection_states
from sluice.store.flow_endpoints import resolve_endpoints
from sluice.store.list_query_sql import ColumnField, ResourceFields, system_fields
from sluice.store.models import Flow, Run, RunBadRow
from sluice.store.resources import ResourceRepository, ViewPages
from sluice.store.run_views import RunView
from sluice.store.runs import NewRun, add_retrigger_run, add_run

FIELDS = ResourceFields(
    model=Run,
    columns={
        **system_fields(Run),
        "flowId": ColumnField(Run.flow_id),
        "state": ColumnField(Run.status, case_insensitive=True),
        "metrics.statusSummary.status": ColumnField(Run.status, case_insensitive=True),
        "metrics.durationSummary.startedAtUTC": ColumnField(Run.started_at, "integer"),
        "metrics.durationSummary.completedAtUTC": ColumnField(Run.completed_at, "integer"),
        "params.windowStartTime": ColumnField(Run.window_start, "integer"),
        "params.windowEndTime": ColumnField(Run.window_end, "integer"),
        "backfillId": ColumnField(Run.backfill_id),
    },
    document_fields=frozenset({"params", "metrics", "activities", "providerRefId", "flowSpec"}),
)
runs = ResourceRepository(Run, "runs", FIELDS)
# The runs list reads tuples of the columns it renders: no ORM instance per listed run.
run_list = ViewPages(FIELDS, RunView)
LIVE_OR_SUCCEEDED = (SCHEDULED, IN_PROGRESS, SUCCESS)


def _enabled_flow(session: Session, tenant: Tenant, flow_id: str, *, code: int) -> Flow:
    return _enabled(flows.find(session, tenant, flow_id), flow_id, code=code)


def _enabled(flow: Flow | None, flow_id: str, *, code: int) -> Flow:
    if flow is None:
        raise bad_request(1430, f"Flow not found: {flow_id}. Verify the flow id.")
    if flow.state != "enabled":
        raise bad_request(
            code,
            f"Flow {flow_id} is {flow.state}; enable it with "
            f"POST /flows/{flow_id}/action?op=enable first.",
        )
    return flow


def _write_delta_column(flow: Flow, tenant: Tenant, column: str) -> None:
    """The first run's delta column becomes the flow's Copy transformation (source of truth)."""
    transformations = [dict(t) for t in flow.doc.get("transformations", [])]
    copy = next((t for t in transformations if str(t.get("name", "")).lower() == "copy"), None)
    if copy is None:
        copy = {"name": "Copy", "params": {}}
        transformations.insert(0, copy)
    params = dict(copy.get("params") or {})
    params["deltaColumn"] = {**dict(params.get("deltaColumn") or {}), "name": column}
    copy["params"] = params
    flow.doc = {**flow.doc, "transformations": transformations}
    flows.touch(flow, tenant)


def resolve_delta_column(
    session: Session,
    tenant: Tenant,
    box: SecretBox,
    context: ConnectorContext,
    flow: Flow,
    requested: str | None,
    *,
    dry_run: bool = False,
) -> str | None:
    """The delta column a new windowed run of `flow` uses (None for file flows).

    A table flow's Copy transformation holds it once set; the first run gives it (1383 if
    it does not), it is checked against the source and written into the flow; a later run
    may repeat it but never change it (1382). File flows take none (1384). A `dry_run`
    applies the same rules but neither reaches the source nor writes the flow."""
    spec = find_flow_spec(flow.flow_spec_id)
    assert spec is not None
    if spec.source_kind != "table":
        if requested is not None:
            raise bad_request(
                1384,
                "params.deltaColumn applies to table-based flows only; remove it for file-based "
                "flows.",
            )
        return None
    held = delta_column_of(flow.doc.get("transformations", []))
    if held is None and requested is None:
        raise bad_request(
            1383,
            "The delta column is missing in the params received for "
            "creating a flow run; give params.deltaColumn.name on the flow's "
            "first run.",
        )
    if held is not None and requested not in (None, held):
        raise bad_request(
            1382,
            f"The delta column should match the value present in the "
            f"flow's Copy transformations ('{held}').",
        )
    if held is not None:
        return held
    assert requested is not None
    if dry_run:
        return requested
    _check_delta_column(session, tenant, box, context, flow, requested)
    _write_delta_column(flow, tenant, requested)
    return requested


def create_run(
    session: Session, tenant: Tenant, box: SecretBox, context: ConnectorContext, payload: Any
) -> Run:
    request = parse_run_request(payload)
    # The flow and its connections' states in one round trip (a run is refused when either
    # is disabled).
    found = flow_and_connection_states(session, tenant, request.flow_id)
    flow = _enabled(found[0] if found is not None else None, request.flow_id, code=1444)
    refuse_disabled_connection(flow, first_disabled(found[1] if found is not None else []))
    delta = resolve_delta_column(session, tenant, box, context, flow, request.delta_column)
    start_at = request.start_time if request.start_time is not None else int(time.time())
    window = Window(request.window_start, request.window_end)
    params = request.params_view()
    if delta is not None:
        params["deltaColumn"] = {"name": delta}
    return add_run(
        session,
        flow,
        NewRun(
            origin="onDemand", start_at=start_at, window=window, delta_column=delta, params=params
        ),
        actor=tenant.client_id,
    )


def _check_delta_column(
    session: Session,
    tenant: Tenant,
    box: SecretBox,
    context: ConnectorContext,
    flow: Flow,
    column: str,
) -> None:
    """A delta column missing from the source, or of a type that cannot be windowed, is a 400
    now rather than a failed run later."""
    endpoints = resolve_endpoints(session, tenant, flow, box)
    try:
        endpoints.connector.check_delta_column(
            context, endpoints.auth_params, endpoints.source, column
        )
    except SourceReadError as failure:
        raise bad_request(
            1380, f"Failed to create flow run. Error message: {failure.message}"
        ) from None


def render_run(row: Run | RunView, tenant: Tenant) -> dict[str, Any]:
    view = system_view(row, tenant)
    view.pop("name", None)
    metrics = dict(row.doc.get("metrics") or {})
    duration = dict(metrics.get("durationSummary") or {})
    if row.started_at is not None:
        duration["startedAtUTC"] = row.started_at
    if row.completed_at is not None:
        duration["completedAtUTC"] = row.completed_at
    status = dict(metrics.get("statusSummary") or {})
    status["status"] = row.status
    metrics.update(durationSummary=duration, statusSummary=status)
    view = {
        **view,
        "flowId": row.flow_id,
        "flowSpec": row.doc.get("flowSpec"),
        "providerRefId": row.doc.get("providerRefId"),
        "params": row.doc.get("params", {}),
        "metrics": metrics,
        "activities": row.doc.get("activities", []),
        "_links": {
            "self": {"href": f"/runs/{row.id}"},
            "flow": {"href": f"/flows/{row.flow_id}"},
        },
    }
    if row.backfill_id is not None:  # a Sluice extension field, only on chunk runs
        view["backfillId"] = row.backfill_id
        view["_links"]["backfill"] = {"href": f"/backfills/{row.backfill_id}"}
    return view


def quarantined_rows(session: Session, run: Run, limit: int) -> list[RunBadRow]:
    """The first `limit` rows a run quarantined (bad rows), in the order they were found."""
    return list(
        session.scalars(
            select(RunBadRow)
            .where(RunBadRow.run_id == run.id)
            .order_by(RunBadRow.position)
            .limit(limit)
        )
    )


def retrigger_run(session: Session, tenant: Tenant, run_id: str) -> Run:
    """A new run over the same window (and, for files, the same files) as a failed run.

    Re-triggers form a chain from the first run (the one that is not a re-trigger). A chain
    holds at most one re-trigger that is scheduled, in progress or succeeded: a second
    request, concurrent or later, is refused with 1387, so no input is landed twice. A
    re-trigger that failed or was cancelled frees the chain for another."""
    original = runs.get(session, tenant, run_id)
    if not can_retrigger(original.status, original.output_records):
        raise bad_request(
            1387,
            f"Run {run_id} is {original.status}; only failed runs, and "
            "successful runs that ingested no records, can be re-triggered.",
        )
    flow = _enabled_flow(session, tenant, original.flow_id, code=1388)
    root = original.retry_root or original.id
    window = (
        Window(original.window_start, original.window_end)
        if original.window_start is not None and original.window_end is not None
        else None
    )
    params = dict(original.doc.get("params") or {})
    params["startTime"] = int(time.time())
    created = add_retrigger_run(
        session,
        flow,
        NewRun(
            origin="retrigger",
            start_at=int(time.time()),
            window=window,
            delta_column=original.delta_column,
            retry_of=original.id,
            retry_root=root,
            params=params,
            files=original.doc.get("files"),
        ),
        actor=tenant.client_id,
    )
    if created is None:
        raise bad_request(1387, _chain_taken_message(session, tenant, run_id, root))
    return created


def _chain_taken_message(session: Session, tenant: Tenant, run_id: str, root: str) -> str:
    holder = session.scalars(
        select(Run)
        .where(
            Run.org_id == tenant.org_id,
            Run.sandbox_id == tenant.sandbox_id,
            Run.retry_root == root,
            Run.status.in_(LIVE_OR_SUCCEEDED),
        )
        .limit(1)
    ).first()
    if holder is not None and holder.status == SUCCESS:
        return (
            f"Run {run_id} cannot be re-triggered: its re-trigger {holder.id} succeeded, so "
            "its input has already landed."
        )
    holder_id = f" ({holder.id}, {holder.status})" if holder is not None else ""
    return (
        f"Run {run_id} already has a re-trigger in progress{holder_id}; wait for it to end "
        "before re-triggering again."
    )


def cancel_run(session: Session, tenant: Tenant, run_id: str) -> Run:
    """A scheduled run is cancelled at once; an in-progress one is asked to stop, and its
    worker ends it without committing (`run_transitions.cancel_scheduled`, `request_cancel`:
    each re-checks the status on the row, so a claim at the same moment cannot slip in)."""
    row = runs.get(session, tenant, run_id)
    stamp = now_ms()
    actor = tenant.client_id
    if not run_transitions.cancel_scheduled(
        session, row.id, actor=actor, now_ms=stamp
    ) and not run_transitions.request_cancel(session, row.id, actor=actor, now_ms=stamp):
        raise bad_request(
            1387, f"Run {run_id} has already ended ({row.status}); nothing to cancel."
        )
    session.expire(row)
    session.refresh(row)
    return row
