"""`/sourceConnections`: what a flow reads."""

from __future__ import annotations

from sluice.api.routers.common import FLOW_SERVICE
from sluice.api.routers.crud import ResourceOperations, add_state_action, resource_router
from sluice.schemas.connections import SourceConnectionCreate
from sluice.schemas.ignored import ignored_fields
from sluice.schemas.parsing import parse_model
from sluice.services import source_connections as service
from sluice.services.connection_states import change_source_state

router = resource_router(
    ResourceOperations(
        path=f"{FLOW_SERVICE}/sourceConnections",
        repository=service.source_connections,
        render=lambda row, tenant, _ctx: service.render_source_connection(row, tenant),
        create=lambda session, tenant, ctx, body: service.create_source_connection(
            session, tenant, parse_model(SourceConnectionCreate, body), ctx.source_checker()
        ),
        patch=lambda session, tenant, ctx, rid, ops, if_match: service.patch_source_connection(
            session, tenant, ctx.source_checker(), rid, ops, if_match
        ),
        delete=lambda session, tenant, _ctx, rid: service.delete_source_connection(
            session, tenant, rid
        ),
        ignored=lambda body: ignored_fields(SourceConnectionCreate, body),
        warnings=service.source_check_warnings,
        readies_runs=True,
    ),
    "sourceConnections",
)
add_state_action(router, change_source_state)
