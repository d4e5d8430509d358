"""The five routes every stored resource has (list, create, get, patch, delete), built from its
service functions so that each router only adds what is special about its resource."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from sluice.api.app_context import AppContext
from sluice.api.body import JsonBody
from sluice.api.deps import ContextDep, IfMatchDep, SessionDep, TenantDep
from sluice.api.idempotency import IdempotencyDep
from sluice.api.ignored import report_ignored
from sluice.api.json_response import JSONResponse
from sluice.api.list_pages import list_response
from sluice.api.routers.common import created, no_content, one, updated
from sluice.api.routers.prefixed import PrefixedRouter
from sluice.domain.tenancy import Tenant
from sluice.services.resource_types import ResourceReader, VersionedResource

Row = TypeVar("Row", bound=VersionedResource)


@dataclass(frozen=True)
class ResourceOperations(Generic[Row]):
    path: str
    repository: ResourceReader[Row]
    render: Callable[[Row, Tenant, AppContext], dict[str, Any]]
    create: Callable[[Session, Tenant, AppContext, Any], Row]
    patch: Callable[[Session, Tenant, AppContext, str, Any, str | None], Row]
    delete: Callable[[Session, Tenant, AppContext, str], None]
    # The body fields a create ignores (unknown or read-only), for the response header.
    ignored: Callable[[Any], list[str]] = field(default=lambda _body: [])
    # Warnings about a created resource (a source that could not be checked), answered as
    # `warnings` beside the id and etag.
    warnings: Callable[[Row], list[str]] = field(default=lambda _row: [])
    # Whether a new one means runs are coming (a connection or a flow): the local workers
    # then load the run engine ahead of the first run (`AppContext.expect_runs`).
    readies_runs: bool = False


def resource_router(ops: ResourceOperations[Row], tag: str) -> APIRouter:
    router = PrefixedRouter(prefix=ops.path, tags=[tag])

    @router.get("")
    def list_resources(
        request: Request, context: ContextDep, session: SessionDep, tenant: TenantDep
    ) -> JSONResponse:
        def render(row: Row) -> dict[str, Any]:
            return ops.render(row, tenant, context)

        return list_response(request, context.settings, session, tenant, ops.repository, render)

    @router.post("")
    def create_resource(
        request: Request,
        body: JsonBody,
        context: ContextDep,
        session: SessionDep,
        tenant: TenantDep,
        idempotency: IdempotencyDep,
    ) -> Response:
        def create() -> Response:
            row = ops.create(session, tenant, context, body)
            if ops.readies_runs:
                context.expect_runs()
            response = created(row, f"{ops.path}/{row.id}", ops.warnings(row))
            return report_ignored(request, response, ops.ignored(body))

        return idempotency.respond(session, tenant, body, create)

    @router.get("/{resource_id}")
    def get_resource(
        resource_id: str, context: ContextDep, session: SessionDep, tenant: TenantDep
    ) -> JSONResponse:
        row = ops.repository.get(session, tenant, resource_id)
        return one(ops.render(row, tenant, context), row.etag)

    @router.patch("/{resource_id}")
    def patch_resource(
        resource_id: str,
        body: JsonBody,
        if_match: IfMatchDep,
        context: ContextDep,
        session: SessionDep,
        tenant: TenantDep,
    ) -> JSONResponse:
        return updated(ops.patch(session, tenant, context, resource_id, body, if_match))

    @router.delete("/{resource_id}")
    def delete_resource(
        resource_id: str, context: ContextDep, session: SessionDep, tenant: TenantDep
    ) -> Response:
        ops.delete(session, tenant, context, resource_id)
        return no_content()

    return router


StateChange = Callable[[Session, Tenant, str, str, str | None], Row]


def add_state_action(router: APIRouter, change: StateChange[Row]) -> None:
    """`POST /{id}/action?op=enable|disable` (any case; If-Match optional): `{id, etag}`."""

    @router.post("/{resource_id}/action")
    def resource_action(
        resource_id: str,
        if_match: IfMatchDep,
        session: SessionDep,
        tenant: TenantDep,
        op: str = Query(..., min_length=1),
    ) -> JSONResponse:
        return updated(change(session, tenant, resource_id, op, if_match))
