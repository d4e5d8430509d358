"""Backfills (a Sluice extension): plan a flow's range into chunks, run them as chunk runs
with bounded parallelism, and pause, resume, cancel or retry them.

Everything a create writes (the backfill, its chunks, the first chunk runs and, on a table
flow's first windowed run, its delta column) happens in the request's one transaction, so
a refused request leaves nothing behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.connectors.contract import ConnectorContext
from sluice.domain.backfill_plan import plan_chunks
from sluice.domain.backfill_requests import (
    LIVE_STATES,
    OVERLAPPING_BACKFILL,
    RUNNING,
    BackfillConflictError,
    BackfillRequest,
    next_status,
    parse_action,
    parse_backfill_request,
)
from sluice.domain.errors import bad_request
from sluice.domain.run_states import SCHEDULED
from sluice.domain.tenancy import Tenant
from sluice.domain.windows import Window
from sluice.schemas.system_fields import system_view
from sluice.security.encryption import SecretBox
from sluice.services.connection_states import require_enabled_connections
from sluice.services.flows import flows
from sluice.services.runs import resolve_delta_column
from sluice.store import backfills as store
from sluice.store import run_transitions
from sluice.store.backfill_dispatch import advance_backfill
from sluice.store.backfills import Progress, chunk_state, lock_flow_for_backfill
from sluice.store.clock import now_ms
from sluice.store.list_query_sql import ColumnField, ResourceFields, system_fields
from sluice.store.models import Backfill, Flow
from sluice.store.resources import ResourceRepository

FIELDS = ResourceFields(
    model=Backfill,
    columns={
        **system_fields(Backfill),
        "flowId": ColumnField(Backfill.flow_id),
        "status": ColumnField(Backfill.status, case_insensitive=True),
        "windowStartTime": ColumnField(Backfill.window_start, "integer"),
        "windowEndTime": ColumnField(Backfill.window_end, "integer"),
    },
    document_fields=frozenset(),
)
backfills = ResourceRepository(Backfill, "backfills", FIELDS)


@dataclass(frozen=True)
class CreatedBackfill:
    """A new backfill and the chunk runs it started (to hint the executors)."""

    row: Backfill
    run_ids: list[str]


def _flow_of(session: Session, tenant: Tenant, flow_id: str) -> Flow:
    lock_flow_for_backfill(session, tenant, flow_id)
    flow = flows.get(session, tenant, flow_id)
    if flow.state != "enabled":
        raise bad_request(
            1444,
            f"Flow {flow_id} is {flow.state}; enable it with "
            f"POST /flows/{flow_id}/action?op=enable first.",
        )
    require_enabled_connections(session, tenant, flow)
    return flow


def _refuse_overlap(session: Session, flow: Flow, window: Window) -> None:
    """Two live backfills of one flow over the same time would load it twice."""
    other = session.scalars(
        select(Backfill)
        .where(
            Backfill.flow_id == flow.id,
            Backfill.status.in_(LIVE_STATES),
            Backfill.window_start < window.end,
            Backfill.window_end > window.start,
        )
        .limit(1)
    ).first()
    if other is not None:
        raise BackfillConflictError(
            f"Flow {flow.id} already has backfill {other.id} ({other.status}) over "
            f"[{other.window_start}, {other.window_end}), which overlaps "
            f"[{window.start}, {window.end}); wait for it to end, cancel it, or choose a "
            "range that does not overlap.",
            code=OVERLAPPING_BACKFILL,
        )


def plan_view(request: BackfillRequest, chunks: list[Window]) -> dict[str, Any]:
    """What a dry run answers: the request as understood and its chunks."""
    return {
        "dryRun": True,
        "flowId": request.flow_id,
        "windowStartTime": request.window.start,
        "windowEndTime": request.window.end,
        "chunk": request.chunk.to_wire(),
        "parallelism": request.parallelism,
        "chunks": [
            {"index": i, "windowStartTime": c.start, "windowEndTime": c.end}
            for i, c in enumerate(chunks)
        ],
    }


def create_backfill(
    session: Session, tenant: Tenant, box: SecretBox, context: ConnectorContext, payload: Any
) -> CreatedBackfill | dict[str, Any]:
    """A new backfill with its first chunk runs, or, for `dryRun`, the plan (nothing is
    written, the delta column is not checked against the source)."""
    request = parse_backfill_request(payload)
    flow = _flow_of(session, tenant, request.flow_id)
    chunks = plan_chunks(request.window, request.chunk)
    _refuse_overlap(session, flow, request.window)
    if request.dry_run:
        resolve_delta_column(
            session, tenant, box, context, flow, request.delta_column, dry_run=True
        )
        return plan_view(request, chunks)
    delta = resolve_delta_column(session, tenant, box, context, flow, request.delta_column)
    row = backfills.add(
        session,
        tenant,
        flow.name,
        {},
        flow_id=flow.id,
        status=RUNNING,
        window_start=request.window.start,
        window_end=request.window.end,
        chunk_unit=request.chunk.unit,
        chunk_size=request.chunk.size,
        parallelism=request.parallelism,
        delta_column=delta,
    )
    store.add_chunks(session, row.id, chunks)
    return CreatedBackfill(row, advance_backfill(session, row, now_s=int(time.time())))


def act(session: Session, tenant: Tenant, backfill_id: str, op: str) -> tuple[Backfill, list[str]]:
    """`op=pause|resume|cancel|retry`; returns the backfill and any chunk runs it started.

    cancel: no further chunk runs; scheduled ones are cancelled at once and in-progress ones
    are asked to stop (their workers end them without committing), with the same rules as
    `POST /runs/{id}/action?op=cancel`. retry: the chunks whose run failed or was cancelled
    wait for a new run; succeeded chunks keep theirs."""
    action = parse_action(op)
    row = backfills.get(session, tenant, backfill_id, for_update=True)
    row.status = next_status(action, row.status, row.id)
    started: list[str] = []
    if action == "cancel":
        _cancel_chunk_runs(session, tenant, row)
    elif action == "retry":
        store.replan_failed_chunks(session, row.id)
    backfills.touch(row, tenant)
    session.flush()
    if row.status == RUNNING:
        started = advance_backfill(session, row, now_s=int(time.time()))
    return row, started


def _cancel_chunk_runs(session: Session, tenant: Tenant, row: Backfill) -> None:
    store.stop_planning(session, row.id)
    stamp = now_ms()
    for run_id, status in store.live_runs_of(session, row.id):
        cancelled = status == SCHEDULED and run_transitions.cancel_scheduled(
            session, run_id, actor=tenant.client_id, now_ms=stamp
        )
        if not cancelled:  # in progress, or claimed since it was read
            run_transitions.request_cancel(session, run_id, actor=tenant.client_id, now_ms=stamp)


def render_backfill(
    row: Backfill, tenant: Tenant, progress: Progress, *, chunks: list[dict[str, Any]] | None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        **system_view(row, tenant),
        "flowId": row.flow_id,
        "status": row.status,
        "windowStartTime": row.window_start,
        "windowEndTime": row.window_end,
        "chunk": {"unit": row.chunk_unit, "size": row.chunk_size},
        "parallelism": row.parallelism,
        "progress": progress.to_wire(),
        "_links": {
            "self": {"href": f"/backfills/{row.id}"},
            "flow": {"href": f"/flows/{row.flow_id}"},
            "runs": {"href": f"/runs?property=backfillId=={row.id}"},
        },
    }
    if row.delta_column:
        view["deltaColumn"] = {"name": row.delta_column}
    if chunks is not None:
        view["chunks"] = chunks
    return view


def chunk_views(session: Session, row: Backfill) -> list[dict[str, Any]]:
    """Each chunk with its window, state and runs (oldest first; the last is current)."""
    return [
        {
            "index": chunk.position,
            "windowStartTime": chunk.window_start,
            "windowEndTime": chunk.window_end,
            "status": chunk_state(chunk.pending, status),
            "runId": chunk.run_id,
            "runs": [
                {"id": run.id, "status": run.status, "outputRecords": run.output_records}
                for run in runs
            ],
        }
        for chunk, status, runs in store.chunks_with_runs(session, row.id)
    ]


def render_one(session: Session, tenant: Tenant, row: Backfill) -> dict[str, Any]:
    progress = store.progress_of(session, [row.id])[row.id]
    return render_backfill(row, tenant, progress, chunks=chunk_views(session, row))


def render_listed(session: Session, tenant: Tenant, row: Backfill) -> dict[str, Any]:
    progress = store.progress_of(session, [row.id])[row.id]
    return render_backfill(row, tenant, progress, chunks=None)
