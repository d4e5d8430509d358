"""`/targetConnections`: the dataset a flow writes."""

from __future__ import annotations

from sluice.api.routers.common import FLOW_SERVICE
from sluice.api.routers.crud import ResourceOperations, add_state_action, resource_router
from sluice.schemas.connections import TargetConnectionCreate
from sluice.schemas.ignored import ignored_fields
from sluice.schemas.parsing import parse_model
from sluice.services import target_connections as service
from sluice.services.connection_states import change_target_state

router = resource_router(
    ResourceOperations(
        path=f"{FLOW_SERVICE}/targetConnections",
        repository=service.target_connections,
        render=lambda row, tenant, _ctx: service.render_target_connection(row, tenant),
        create=lambda session, tenant, _ctx, body: service.create_target_connection(
            session, tenant, parse_model(TargetConnectionCreate, body)
        ),
        patch=lambda session, tenant, _ctx, rid, ops, if_match: service.patch_target_connection(
            session, tenant, rid, ops, if_match
        ),
        delete=lambda session, tenant, _ctx, rid: service.delete_target_connection(
            session, tenant, rid
        ),
        ignored=lambda body: ignored_fields(TargetConnectionCreate, body),
        readies_runs=True,
    ),
    "targetConnections",
)
add_state_action(router, change_target_state)
