"""`/backfills` (a Sluice extension): create (or plan with `dryRun`), list, read, and
`POST /backfills/{id}/action?op=pause|resume|cancel|retry`."""

from __future__ import annotations

from fastapi import Query, Request, Response

from sluice.api.body import JsonBody
from sluice.api.deps import ContextDep, SessionDep, TenantDep
from sluice.api.idempotency import IdempotencyDep
from sluice.api.json_response import JSONResponse
from sluice.api.list_pages import list_response
from sluice.api.routers.common import FLOW_SERVICE, created, notify_after_commit, one, updated
from sluice.api.routers.prefixed import PrefixedRouter
from sluice.services import backfills as service

BACKFILLS = f"{FLOW_SERVICE}/backfills"
router = PrefixedRouter(prefix=BACKFILLS, tags=["backfills"])


@router.post("")
def create_backfill(
    body: JsonBody,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    idempotency: IdempotencyDep,
) -> Response:
    """201 with `{id, etag}`; a dry run answers 200 with the plan and creates nothing."""

    def create() -> Response:
        result = service.create_backfill(
            session, tenant, context.secret_box, context.connector_context, body
        )
        if isinstance(result, dict):
            return JSONResponse(result)
        response = created(result.row, f"{BACKFILLS}/{result.row.id}")
        response.background = notify_after_commit(context, *result.run_ids)
        return response

    return idempotency.respond(session, tenant, body, create)


@router.get("")
def list_backfills(
    request: Request, context: ContextDep, session: SessionDep, tenant: TenantDep
) -> JSONResponse:
    return list_response(
        request,
        context.settings,
        session,
        tenant,
        service.backfills,
        lambda row: service.render_listed(session, tenant, row),
    )


@router.get("/{backfill_id}")
def get_backfill(backfill_id: str, session: SessionDep, tenant: TenantDep) -> JSONResponse:
    row = service.backfills.get(session, tenant, backfill_id)
    return one(service.render_one(session, tenant, row), row.etag)


@router.post("/{backfill_id}/action")
def backfill_action(
    backfill_id: str,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    op: str = Query(..., min_length=1),
) -> JSONResponse:
    row, started = service.act(session, tenant, backfill_id, op)
    response = updated(row)
    response.background = notify_after_commit(context, *started)
    return response
