"""`/flows`: dataflows, plus `POST /flows/{id}/action?op=enable|disable`."""

from __future__ import annotations

from fastapi import Query

from sluice.api.deps import ContextDep, IfMatchDep, SessionDep, TenantDep
from sluice.api.json_response import JSONResponse
from sluice.api.routers.common import FLOW_SERVICE, updated
from sluice.api.routers.crud import ResourceOperations, resource_router
from sluice.schemas.flows import FlowCreate
from sluice.schemas.ignored import ignored_fields
from sluice.services import flows as service

router = resource_router(
    ResourceOperations(
        path=f"{FLOW_SERVICE}/flows",
        repository=service.flows,
        render=lambda row, tenant, _ctx: service.render_flow(row, tenant),
        create=lambda session, tenant, _ctx, body: service.create_flow(session, tenant, body),
        patch=lambda session, tenant, _ctx, rid, ops, if_match: service.patch_flow(
            session, tenant, rid, ops, if_match
        ),
        delete=lambda session, tenant, _ctx, rid: service.delete_flow(session, tenant, rid),
        ignored=lambda body: ignored_fields(FlowCreate, body),
        readies_runs=True,
    ),
    "flows",
)


@router.post("/{flow_id}/action")
def flow_action(
    flow_id: str,
    if_match: IfMatchDep,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    op: str = Query(..., min_length=1),
) -> JSONResponse:
    row = service.change_state(session, tenant, flow_id, op, if_match)
    if row.state == "enabled":
        context.expect_runs()  # an enabled flow's ticks (and runs) are coming
    return updated(row)
