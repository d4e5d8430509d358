"""The list endpoint shape shared by every resource: query parsing and the page envelope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy.orm import Session

from sluice.config import Settings
from sluice.domain.list_query import ListQuery, encode_token, parse_list_query
from sluice.domain.tenancy import Tenant
from sluice.store.models import ResourceColumns
from sluice.store.resources import ResourceRepository

Row = TypeVar("Row", bound=ResourceColumns)


def list_query_from(request: Request, settings: Settings) -> ListQuery:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return parse_list_query(params, settings.default_page_limit, settings.max_page_limit)


def list_envelope(
    request: Request,
    settings: Settings,
    session: Session,
    tenant: Tenant,
    repository: ResourceRepository[Row],
    render: Callable[[Row], dict[str, Any]],
) -> dict[str, Any]:
    query = list_query_from(request, settings)
    if query.count_only:
        return {"count": repository.count(session, tenant, query)}
    page = repository.page(session, tenant, query)
    links: dict[str, Any] = {}
    if page.next_after is not None:
        token = encode_token(query, *page.next_after)
        links["next"] = {"href": f"{request.url.path}?continuationToken={token}"}
    return {"items": [render(row) for row in page.rows], "_links": links}
