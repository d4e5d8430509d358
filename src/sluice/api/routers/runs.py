"""`/runs`: on-demand runs, reads, re-trigger and cancel, a run's quarantined rows and its log."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import Query, Request, Response

from sluice.api.body import JsonBody
from sluice.api.deps import ContextDep, ReadSessionDep, SessionDep, TenantDep, commit_in_route
from sluice.api.idempotency import IdempotencyDep
from sluice.api.ignored import report_ignored
from sluice.api.json_response import JSONResponse
from sluice.api.list_pages import list_response
from sluice.api.routers.common import FLOW_SERVICE, RowsLimit, notify_after_commit, one
from sluice.api.routers.prefixed import PrefixedRouter
from sluice.domain.errors import bad_request
from sluice.domain.list_query import PropertyFilter
from sluice.domain.run_params import ignored_run_fields
from sluice.services import run_logs
from sluice.services import runs as service
from sluice.services.flows import flows

RUNS = f"{FLOW_SERVICE}/runs"
router = PrefixedRouter(prefix=RUNS, tags=["runs"])
flow_runs_router = PrefixedRouter(prefix=f"{FLOW_SERVICE}/flows", tags=["runs"])


def _runs_page(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    scope: tuple[PropertyFilter, ...] = (),
) -> JSONResponse:
    render = partial(service.render_run, tenant=tenant)
    return list_response(
        request, context.settings, session, tenant, service.run_list, render, scope
    )


@router.get("")
def list_runs(
    request: Request, context: ContextDep, session: ReadSessionDep, tenant: TenantDep
) -> JSONResponse:
    return _runs_page(request, context, session, tenant)


@flow_runs_router.get("/{flow_id}/runs")
def list_flow_runs(
    flow_id: str, request: Request, context: ContextDep, session: ReadSessionDep, tenant: TenantDep
) -> JSONResponse:
    """A flow's runs (the link the tutorial shows): `/runs?property=flowId=={id}`, with the
    same filters and paging; 404 for an unknown flow."""
    flow = flows.get(session, tenant, flow_id)
    scope = (PropertyFilter("flowId", "==", (flow.id,)),)
    return _runs_page(request, context, session, tenant, scope)


@router.post("")
def create_run(
    request: Request,
    body: JsonBody,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    idempotency: IdempotencyDep,
) -> Response:
    def create() -> Response:
        row = service.create_run(
            session, tenant, context.secret_box, context.connector_context, body
        )
        # The tutorial's response wraps the new run in `items`.
        response = JSONResponse(
            {"items": [{"id": row.id, "etag": row.etag}]},
            status_code=201,
            headers={"Location": f"{RUNS}/{row.id}", "ETag": row.etag},
            # A run rolled back because a concurrent request won its Idempotency-Key is
            # answered by the replay, without this task.
            background=notify_after_commit(context, row.id),
        )
        return report_ignored(request, response, ignored_run_fields(body))

    answer = idempotency.respond(session, tenant, body, create)
    commit_in_route(session)
    return answer


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
            background=notify_after_commit(context, row.id),
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
    run_id: str, session: SessionDep, tenant: TenantDep, limit: RowsLimit = 100
) -> dict[str, Any]:
    row = service.runs.get(session, tenant, run_id)
    rows = service.quarantined_rows(session, row, limit)
    return {
        "items": [
            {"position": r.position, "location": r.location, "reason": r.reason, "raw": r.raw}
            for r in rows
        ]
    }


@router.get("/{run_id}/logs")
def run_log(
    run_id: str,
    session: SessionDep,
    tenant: TenantDep,
    start: int = Query(0, ge=0, description="Entries to skip from the first."),
    since: int | None = Query(None, ge=0, description="Only entries after this `seq`."),
    limit: int = Query(100, ge=1, le=run_logs.MAX_LOG_PAGE),
) -> dict[str, Any]:
    """The run's structured log, oldest first (a Sluice extension). Entries are numbered
    from 1 without a gap, so `start=k` and `since=k` both mean "after the k-th"; a follower
    polls with the `since` of the previous page until `runStatus` is final."""
    after = since if since is not None else start
    return run_logs.log_page(session, tenant, run_id, after_seq=after, limit=limit)
