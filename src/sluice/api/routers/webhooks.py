"""`/webhooks`: subscriptions of URLs to run events, and each one's delivery log."""

from __future__ import annotations

from fastapi import Query

from sluice.api.deps import SessionDep, TenantDep
from sluice.api.json_response import JSONResponse
from sluice.api.routers.common import RowsLimit
from sluice.api.routers.crud import ResourceOperations, resource_router
from sluice.webhooks import subscriptions as service

router = resource_router(
    ResourceOperations(
        path=service.WEBHOOKS_PATH,
        repository=service.webhooks,
        render=lambda row, tenant, _ctx: service.render_webhook(row, tenant),
        create=lambda session, tenant, ctx, body: service.create_webhook(
            session, tenant, ctx.secret_box, ctx.connector_context, body
        ),
        patch=lambda session, tenant, ctx, rid, ops, if_match: service.patch_webhook(
            session, tenant, ctx.secret_box, ctx.connector_context, rid, ops, if_match
        ),
        delete=lambda session, tenant, _ctx, rid: service.delete_webhook(session, tenant, rid),
    ),
    "webhooks",
)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: str,
    session: SessionDep,
    tenant: TenantDep,
    limit: RowsLimit = 50,
    status: str | None = Query(None),
    continuation_token: str | None = Query(None, alias="continuationToken"),
) -> JSONResponse:
    """Newest first; `status` is pending, delivered or failed."""
    return JSONResponse(
        service.list_deliveries(
            session,
            tenant,
            webhook_id,
            limit=limit,
            status=status,
            continuation_token=continuation_token,
        )
    )
