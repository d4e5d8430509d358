"""`/runs`: on-demand runs, reads, re-trigger and cancel, and a run's quarantined rows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from sluice.api.body import JsonBody
from sluice.api.context import AppContext
from sluice.api.deps import ContextDep, SessionDep, TenantDep
from sluice.api.ignored import report_ignored
from sluice.api.listing import list_envelope
from sluice.api.routers.common import FLOW_SERVICE, one
from sluice.domain.errors import bad_request
from sluice.domain.list_query import PropertyFilter
from sluice.domain.run_params import ignored_run_fields
from sluice.services import runs as service
from sluice.services.flows import flows

RUNS = f"{FLOW_SERVICE}/runs"
router = APIRouter(prefix=RUNS, tags=["runs"])
flow_runs_router = APIRouter(prefix=f"{FLOW_SERVICE}/flows", tags=["runs"])


def _runs_page(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    scope: tuple[PropertyFilter, ...] = (),
) -> JSONResponse:
    return JSONResponse(
        list_envelope(
            request,
            context.settings,
            session,
            tenant,
            service.runs,
            lambda row: service.render_run(row, tenant),
            scope=scope,
        )
    )


@router.get("")
def list_runs(
    request: Request, context: ContextDep, session: SessionDep, tenant: TenantDep
) -> JSONResponse:
    return _runs_page(request, context, session, tenant)


@flow_runs_router.get("/{flow_id}/runs")
def list_flow_runs(
    flow_id: str, request: Request, context: ContextDep, session: SessionDep, tenant: TenantDep
) -> JSONResponse:
    """A flow's runs (the link the tutorial shows): `/runs?property=flowId=={id}`, with the
    same filters and paging; 404 for an unknown flow."""
    flow = flows.get(session, tenant, flow_id)
    scope = (PropertyFilter("flowId", "==", (flow.id,)),)
    return _runs_page(request, context, session, tenant, scope)


@router.post("")
def create_run(
    request: Request, body: JsonBody, context: ContextDep, session: SessionDep, tenant: TenantDep
) -> JSONResponse:
    row = service.create_run(session, tenant, context.secret_box, context.connector_context, body)
    # The tutorial's response wraps the new run in `items`.
    response = JSONResponse(
        {"items": [{"id": row.id, "etag": row.etag}]},
        status_code=201,
        headers={"Location": f"{RUNS}/{row.id}", "ETag": row.etag},
        background=_notify_after_commit(context, row.id),
    )
    return report_ignored(request, response, ignored_run_fields(body))


@router.get("/{run_id}")
def get_run(run_id: str, session: SessionDep, tenant: TenantDep) -> JSONResponse:
    row = service.runs.get(session, tenant, run_id)
    return one(service.render_run(row, tenant), row.etag)


@router.post("/{run_id}/action")
def run_action(
    run_id: str,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    op: str = Query(..., min_length=1),
) -> JSONResponse:
    action = op.strip().lower().replace("_", "-")
    if action == "re-trigger":
        row = service.retrigger_run(session, tenant, run_id)
        return JSONResponse(
            {"id": row.id, "etag": row.etag},
            status_code=201,
            headers={"Location": f"{RUNS}/{row.id}"},
            background=_notify_after_commit(context, row.id),
        )
    if action == "cancel":
        row = service.cancel_run(session, tenant, run_id)
        return JSONResponse({"id": row.id, "etag": row.etag})
    raise bad_request(
        1333, f"Flow run action '{op}' is not supported; use op=re-trigger or op=cancel."
    )


@router.put("/{run_id}")
def provider_update(run_id: str, _tenant: TenantDep) -> JSONResponse:
    raise bad_request(
        1427,
        "User token is unauthorized to create/update flow runs: runs are "
        "updated by Sluice's workers only.",
    )


@router.get("/{run_id}/badRows")
def bad_rows(
    run_id: str, session: SessionDep, tenant: TenantDep, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    row = service.runs.get(session, tenant, run_id)
    rows = service.quarantined_rows(session, row, limit)
    return {
        "items": [
            {"position": r.position, "location": r.location, "reason": r.reason, "raw": r.raw}
            for r in rows
        ]
    }


def _notify_after_commit(context: AppContext, run_id: str) -> BackgroundTask:
    """Wake the workers (or send the run's Celery task) once the response is sent: the
    request's transaction has committed by then, so the run is visible to whoever claims
    it, and a slow broker never delays the 201."""
    return BackgroundTask(context.notify_run_ready, run_id)
