"""Offset pages (the Catalog API's `start` + `limit`), ordered on several columns.

Filters are the shared ones (`store.list_query_sql`); the order always ends on the id, so equal
sort values still page in one stable order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from sluice.domain.errors import bad_request
from sluice.domain.list_query import ListQuery, OrderBy, PropertyFilter
from sluice.domain.tenancy import Tenant
from sluice.store.list_query_sql import ResourceFields, build_select


def fetch_offset_page(
    session: Session,
    fields: ResourceFields,
    tenant: Tenant,
    filters: Sequence[PropertyFilter],
    order: Sequence[OrderBy],
    start: int,
    limit: int,
) -> list[Any]:
    statement = build_select(session, fields, tenant, ListQuery(filters=tuple(filters)))
    clauses = []
    for item in order:
        spec = fields.columns.get(item.field)
        if spec is None:
            raise bad_request(1433, f"Invalid orderBy field '{item.field}'.")
        column = spec.column
        # NULLs first going up and last going down, the same on SQLite and PostgreSQL.
        clauses.append(
            column.desc().nulls_last() if item.descending else column.asc().nulls_first()
        )
    descending = bool(order) and order[-1].descending
    model = fields.model
    clauses.append(model.id.desc() if descending else model.id.asc())
    return list(session.scalars(statement.order_by(*clauses).offset(start).limit(limit)))
