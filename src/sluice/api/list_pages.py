"""The list endpoint shape shared by every resource: query parsing and the page envelope."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request
from sqlalchemy.orm import Session

from sluice.api.deps import end_read
from sluice.api.json_response import JSONResponse
from sluice.config import Settings
from sluice.domain.catalog_query import parse_properties
from sluice.domain.list_query import ListQuery, PropertyFilter, encode_token, parse_list_query
from sluice.domain.tenancy import Tenant
from sluice.services.resource_types import ListReader, VersionedResource

Row = TypeVar("Row", bound=VersionedResource)


def service_relative(path: str) -> str:
    """`/data/foundation/flowservice/connections` -> `/connections`: hrefs are relative to
    the service root, as in the reference, so that base URL + href is the next page."""
    parts = path.split("/")
    if len(parts) > 4 and parts[1:3] == ["data", "foundation"]:
        return "/" + "/".join(parts[4:])
    return path


def list_query_from(request: Request, settings: Settings) -> ListQuery:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key != "properties":  # a projection of the answer, not part of the query
            params.setdefault(key, []).append(value)
    # Bound to the collection's path, so a token works only where it was issued.
    return parse_list_query(
        params, settings.default_page_limit, settings.max_page_limit, resource=request.url.path
    )


def requested_properties(request: Request) -> tuple[str, ...] | None:
    """`properties=name,state`: the top-level fields each item shows (`id` always)."""
    raw = request.query_params.get("properties")
    return None if raw is None else parse_properties(raw)


def projected(item: dict[str, Any], properties: tuple[str, ...] | None) -> dict[str, Any]:
    if properties is None:
        return item
    return {k: v for k, v in item.items() if k == "id" or k in properties}


def list_response(
    request: Request,
    settings: Settings,
    session: Session,
    tenant: Tenant,
    repository: ListReader[Row],
    render: Callable[[Row], dict[str, Any]],
    scope: Sequence[PropertyFilter] = (),
) -> JSONResponse:
    """One page; `scope` filters are always applied (`/flows/{id}/runs` is the runs list
    with `flowId=={id}`), and travel in the continuation token like the caller's own.
    Plain JSON, like a single GET: no response-model pass over free-form documents."""
    query = list_query_from(request, settings)
    properties = requested_properties(request)
    missing = tuple(f for f in scope if f not in query.filters)
    if missing:
        query = replace(query, filters=missing + query.filters)
    if query.count_only:
        count = repository.count(session, tenant, query)
        end_read(session)
        return JSONResponse({"count": count})
    page = repository.page(session, tenant, query)
    end_read(session)
    links: dict[str, Any] = {}
    if page.next_after is not None:
        token = encode_token(query, *page.next_after)
        href = f"{service_relative(request.url.path)}?continuationToken={token}"
        if properties is not None:
            href += f"&properties={quote(','.join(properties))}"
        links["next"] = {"href": href}
    items = [projected(render(row), properties) for row in page.rows]
    return JSONResponse({"items": items, "_links": links})

