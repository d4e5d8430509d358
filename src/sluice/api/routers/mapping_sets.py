"""`/data/foundation/conversion/mappingSets`: versioned mapping sets (Data Prep's API shape).

Creating answers `{id, etag, version: 0}`; PUT (with If-Match) replaces the rules as version
N+1; GET shows the latest version, or `?version=N`.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Query, Request, Response

from sluice.api.body import JsonBody
from sluice.api.deps import ContextDep, IfMatchDep, SessionDep, TenantDep
from sluice.api.idempotency import IdempotencyDep
from sluice.api.json_response import JSONResponse
from sluice.api.list_pages import list_response
from sluice.api.routers.common import no_content, one
from sluice.api.routers.prefixed import PrefixedRouter
from sluice.domain.mapping_sets import mapping_version
from sluice.services import mapping_sets as service
from sluice.services.resource_types import NumberedResource

PATH = "/data/foundation/conversion/mappingSets"
router = PrefixedRouter(prefix=PATH, tags=["mappingSets"])


def _written(row: NumberedResource, status_code: int) -> JSONResponse:
    headers = {"ETag": row.etag}
    if status_code == 201:
        headers["Location"] = f"{PATH}/{row.id}"
    return JSONResponse(
        {"id": row.id, "etag": row.etag, "version": row.version},
        status_code=status_code,
        headers=headers,
    )


def _version(text: str | None) -> int | None:
    if text is None:
        return None
    return mapping_version(text)


@router.get("")
def list_mapping_sets(
    request: Request, context: ContextDep, session: SessionDep, tenant: TenantDep
) -> JSONResponse:
    render = partial(service.render_mapping_set, tenant=tenant)
    return list_response(request, context.settings, session, tenant, service.mapping_sets, render)


@router.post("")
def create_mapping_set(
    body: JsonBody, session: SessionDep, tenant: TenantDep, idempotency: IdempotencyDep
) -> Response:
    def create() -> Response:
        return _written(service.create_mapping_set(session, tenant, body), 201)

    return idempotency.respond(session, tenant, body, create)


@router.get("/{mapping_id}")
def get_mapping_set(
    mapping_id: str,
    session: SessionDep,
    tenant: TenantDep,
    version: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    row, stored = service.get_version(session, tenant, mapping_id, _version(version))
    return one(service.render_mapping_set(row, tenant, stored), row.etag)


@router.put("/{mapping_id}")
def replace_mapping_set(
    mapping_id: str, body: JsonBody, if_match: IfMatchDep, session: SessionDep, tenant: TenantDep
) -> JSONResponse:
    row = service.replace_mapping_set(session, tenant, mapping_id, body, if_match)
    return _written(row, 200)


@router.delete("/{mapping_id}")
def delete_mapping_set(mapping_id: str, session: SessionDep, tenant: TenantDep) -> Response:
    service.delete_mapping_set(session, tenant, mapping_id)
    return no_content()
