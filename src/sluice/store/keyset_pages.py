"""Keyset pages of a resource list: a page starts strictly after the (sort value, id) of the
last row of the page before, so a continuation token stays correct while other clients
insert: a page never repeats or skips a row that existed when paging began."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, inspect, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sluice.domain.errors import bad_request
from sluice.domain.list_query import ListQuery
from sluice.domain.tenancy import Tenant
from sluice.store.list_query_sql import (
    INT_MAX,
    INT_MIN,
    ColumnField,
    ResourceFields,
    build_select,
    sort_column,
)
from sluice.store.models import ResourceColumns

# A NamedTuple class whose field names are model attributes (`store.run_views.RunView`).
View = TypeVar("View", bound=tuple[Any, ...])


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next_after: tuple[Any, str] | None


def _valid_position(sort: ColumnField, value: Any) -> bool:
    """Whether a continuation token's sort value fits the column (the token is client-held)."""
    if value is None:
        return _is_nullable(sort)
    if sort.kind == "integer":
        return type(value) is int and INT_MIN <= value <= INT_MAX
    if sort.kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def _is_nullable(sort: ColumnField) -> bool:
    return bool(getattr(sort.column.expression, "nullable", True))


def checked_position(sort: ColumnField, query: ListQuery) -> tuple[Any, str]:
    """The continuation token's (sort value, id), refused unless it fits the sort column
    (the token is client-held)."""
    assert query.after is not None
    last_value, last_id = query.after
    if not _valid_position(sort, last_value) or not isinstance(last_id, str):
        raise bad_request(1452, "Invalid continuationToken; start again from the first page.")
    return last_value, last_id


def after_condition(
    sort: ColumnField,
    model: type[ResourceColumns],
    descending: bool,
    last_value: Any,
    last_id: Any,
    *,
    after_null: bool,
) -> ColumnElement[bool]:
    """Rows strictly after (sort value, id), NULL sorting lowest on both databases. The
    position is given as values or as bound parameters; `after_null`: the sort value is
    NULL (and `last_value` is not used)."""
    column = sort.column
    if descending:
        if after_null:
            return and_(column.is_(None), model.id < last_id)
        later = or_(column < last_value, and_(column == last_value, model.id < last_id))
        return or_(later, column.is_(None)) if _is_nullable(sort) else later
    if after_null:
        return or_(column.is_not(None), and_(column.is_(None), model.id > last_id))
    return or_(column > last_value, and_(column == last_value, model.id > last_id))


def ordered_page(
    statement: Select[Any], sort: ColumnField, model: type[ResourceColumns], query: ListQuery
) -> Select[Any]:
    """`statement` in the page's order, one row more than the page (which tells whether
    there is a next one)."""
    column = sort.column
    nullable = _is_nullable(sort)
    if query.order.descending:
        order = column.desc().nulls_last() if nullable else column.desc()
        statement = statement.order_by(order, model.id.desc())
    else:
        order = column.asc().nulls_first() if nullable else column.asc()
        statement = statement.order_by(order, model.id.asc())
    return statement.limit(query.limit + 1)


def _paged(
    statement: Select[Any], sort: ColumnField, model: type[ResourceColumns], query: ListQuery
) -> Select[Any]:
    """`statement` cut to the page: after the token's position, in order, one row more than
    the page."""
    if query.after is not None:
        last_value, last_id = checked_position(sort, query)
        statement = statement.where(
            after_condition(
                sort,
                model,
                query.order.descending,
                last_value,
                last_id,
                after_null=last_value is None,
            )
        )
    return ordered_page(statement, sort, model, query)


def page_of(rows: list[Any], sort: ColumnField, query: ListQuery) -> Page:
    has_more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_after = None
    if has_more and rows:
        last = rows[-1]
        next_after = (getattr(last, sort.column.key), last.id)
    return Page(rows=rows, next_after=next_after)


def fetch_page(session: Session, fields: ResourceFields, tenant: Tenant, query: ListQuery) -> Page:
    sort = sort_column(fields, query)
    statement = build_select(session, fields, tenant, query)
    statement = _paged(statement, sort, fields.model, query)
    return page_of(list(session.scalars(statement)), sort, query)


def view_select(fields: ResourceFields, view: type[View], sort: ColumnField) -> Select[Any]:
    """A select of `view`'s columns, which must include the sort column."""
    named_tuple: Any = view  # typing knows no "some NamedTuple class"
    names: tuple[str, ...] = named_tuple._fields
    if sort.column.key not in names:
        raise ValueError(f"{view.__name__} lacks the sort column {sort.column.key!r}")
    columns = inspect(fields.model).columns
    return select(*(columns[name] for name in names))


def view_page(rows: Sequence[Any], view: type[View], sort: ColumnField, query: ListQuery) -> Page:
    """The page of `rows` (from `result.all()`: iterating the result would fetch row by row
    from the cursor), each made a `view`."""
    named_tuple: Any = view
    return page_of(list(map(named_tuple._make, rows)), sort, query)
