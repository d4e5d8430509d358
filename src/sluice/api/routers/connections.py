"""`/connections`: base connections (credentials masked), plus their live test."""

from __future__ import annotations

from typing import Any

from sluice.api.deps import ContextDep, SessionDep, TenantDep
from sluice.api.routers.common import FLOW_SERVICE
from sluice.api.routers.crud import ResourceOperations, add_state_action, resource_router
from sluice.schemas.connections import ConnectionCreate
from sluice.schemas.ignored import ignored_fields
from sluice.schemas.parsing import parse_model
from sluice.services import connections as service
from sluice.services.connection_states import change_connection_state

router = resource_router(
    ResourceOperations(
        path=f"{FLOW_SERVICE}/connections",
        repository=service.connections,
        render=lambda row, tenant, _ctx: service.render_connection(row, tenant),
        create=lambda session, tenant, ctx, body: service.create_connection(
            session,
            tenant,
            ctx.secret_box,
            ctx.connector_context,
            parse_model(ConnectionCreate, body),
        ),
        patch=lambda session, tenant, ctx, rid, ops, if_match: service.patch_connection(
            session, tenant, ctx.secret_box, ctx.connector_context, rid, ops, if_match
        ),
        delete=lambda session, tenant, _ctx, rid: service.delete_connection(session, tenant, rid),
        ignored=lambda body: ignored_fields(ConnectionCreate, body),
        readies_runs=True,
    ),
    "connections",
)
add_state_action(router, change_connection_state)


@router.get("/{connection_id}/test")
def test_connection(
    connection_id: str, context: ContextDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    row = service.connections.get(session, tenant, connection_id)
    return service.test_connection(row, context.secret_box, context.connector_context)
