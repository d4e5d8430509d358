"""Turns a parsed `ListQuery` into SQL for one resource table: its fields, filters and sort
column. The keyset pages over that SQL are `store.keyset_pages`'."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Select, and_, false, func, not_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from sluice.domain.errors import bad_request
from sluice.domain.list_query import ListQuery, PropertyFilter
from sluice.domain.numbers import ascii_decimal
from sluice.domain.tenancy import Tenant
from sluice.store.json_paths import Json, JsonReader
from sluice.store.models import ResourceColumns

ValueKind = Literal["string", "integer", "boolean"]
# Integer columns are BIGINT: a bound outside this range decides the comparison by itself.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
SqlExpression = ColumnElement[Any] | InstrumentedAttribute[Any]


@dataclass(frozen=True)
class ColumnField:
    """A wire field stored in a real column (filterable and sortable)."""

    column: InstrumentedAttribute[Any]
    kind: ValueKind = "string"
    case_insensitive: bool = False


def system_fields(model: type[ResourceColumns]) -> dict[str, ColumnField]:
    return {
        "id": ColumnField(model.id),
        "name": ColumnField(model.name),
        "createdAt": ColumnField(model.created_at, "integer"),
        "updatedAt": ColumnField(model.updated_at, "integer"),
        "createdBy": ColumnField(model.created_by),
        "updatedBy": ColumnField(model.updated_by),
        "createdClient": ColumnField(model.created_client),
        "updatedClient": ColumnField(model.updated_client),
        "etag": ColumnField(model.etag),
        "imsOrgId": ColumnField(model.org_id),
        "sandboxId": ColumnField(model.sandbox_id),
    }


@dataclass(frozen=True)
class ResourceFields:
    """What a list of one resource may filter and sort on."""

    model: type[ResourceColumns]
    columns: Mapping[str, ColumnField]
    # Top-level wire fields kept in `doc`; nested paths below them are free.
    document_fields: frozenset[str]
    # Fields every row of the resource has with the same value (`isSourceFlow`), filtered
    # without SQL like `sandboxName`.
    constants: Mapping[str, str] = field(default_factory=dict)


def _parse_number(value: str, path: str) -> Decimal:
    number = ascii_decimal(value)
    if number is None:
        raise bad_request(1452, f"Invalid value '{value}' for '{path}'; a number is expected.")
    return number


def _compare(expr: SqlExpression, operator: str, value: Any) -> ColumnElement[bool]:
    comparisons = {
        "==": lambda: expr == value,
        "!=": lambda: expr != value,
        ">": lambda: expr > value,
        "<": lambda: expr < value,
        ">=": lambda: expr >= value,
        "<=": lambda: expr <= value,
    }
    result: ColumnElement[bool] = comparisons[operator]()
    return result


def _integer_condition(column: SqlExpression, flt: PropertyFilter) -> ColumnElement[bool]:
    """The same comparison against a whole number, exact for fractional or huge bounds."""
    if len(flt.values) > 1:
        raise bad_request(1452, f"'{flt.path}' takes a single value, not a list.")
    number, operator = _parse_number(flt.values[0], flt.path), flt.operator
    if not INT_MIN <= number <= INT_MAX:
        holds = ("<", "<=", "!=") if number > 0 else (">", ">=", "!=")
        return true() if operator in holds else false()
    low, high = math.floor(number), math.ceil(number)
    if operator in ("==", "!="):
        if low != high:
            return true() if operator == "!=" else false()
        return _compare(column, operator, low)
    return _compare(column, operator, low if operator in (">", "<=") else high)


def _column_condition(spec: ColumnField, flt: PropertyFilter) -> ColumnElement[bool]:
    if spec.kind == "integer":
        return _integer_condition(spec.column, flt)
    if spec.kind == "boolean":
        values: Sequence[Any] = [_parse_bool(v, flt.path) for v in flt.values]
        column: SqlExpression = spec.column
    elif spec.case_insensitive:
        values = [v.lower() for v in flt.values]
        column = func.lower(spec.column)
    else:
        values, column = flt.values, spec.column
    return _match_any(column, flt.operator, values)


def _parse_bool(value: str, path: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise bad_request(1452, f"Invalid value '{value}' for '{path}'; true or false expected.")
    return value.lower() == "true"


def _match_any(expr: SqlExpression, operator: str, values: Sequence[Any]) -> ColumnElement[bool]:
    if operator == "==":
        return expr.in_(list(values)) if len(values) > 1 else expr == values[0]
    if operator == "!=":
        return or_(expr.is_(None), expr.not_in(list(values)))
    return _compare(expr, operator, values[0])


def _is_number(text: str) -> bool:
    return ascii_decimal(text) is not None


def _json_value_condition(
    reader: JsonReader, document: Json, segments: Sequence[str], flt: PropertyFilter
) -> ColumnElement[bool]:
    if flt.operator in ("==", "!="):
        text = reader.text(document, segments)
        matched = text.in_(list(flt.values)) if len(flt.values) > 1 else text == flt.values[0]
        return or_(text.is_(None), not_(matched)) if flt.operator == "!=" else matched
    value = flt.values[0]
    if _is_number(value):
        return _compare(reader.number(document, segments), flt.operator, reader.number_param(value))
    return _compare(reader.text(document, segments), flt.operator, value)


def _path_condition(
    reader: JsonReader, document: Json, segments: Sequence[str], flt: PropertyFilter
) -> ColumnElement[bool]:
    """`a.b[].c[].d`: some element of each `[]` array along the path satisfies the filter."""
    array_at = next((i for i, s in enumerate(segments) if s.endswith("[]")), None)
    if array_at is None:
        return _json_value_condition(reader, document, segments, flt)
    return reader.any_element(
        document,
        [s.removesuffix("[]") for s in segments[: array_at + 1]],
        segments[array_at + 1 :],
        lambda r, value, rest: _path_condition(r, value, rest, flt),
    )


def _document_condition(
    model: type[ResourceColumns], reader: JsonReader, flt: PropertyFilter
) -> ColumnElement[bool]:
    segments = flt.path.split(".")
    if not any(s.endswith("[]") for s in segments):
        return _json_value_condition(reader, model.doc, segments, flt)
    if flt.operator == "!=":
        # Over arrays, `!=` means that no element equals any of the values.
        return not_(_path_condition(reader, model.doc, segments, replace(flt, operator="==")))
    return _path_condition(reader, model.doc, segments, flt)


def filter_condition(
    fields: ResourceFields, tenant: Tenant, reader: JsonReader, flt: PropertyFilter
) -> ColumnElement[bool]:
    if flt.path == "sandboxName":
        return true() if _match_in_python(tenant.sandbox_name, flt) else false()
    if flt.path in fields.constants:
        return true() if _match_constant(fields.constants[flt.path], flt) else false()
    spec = fields.columns.get(flt.path)
    if spec is not None:
        return _column_condition(spec, flt)
    top = flt.path.split(".")[0].removesuffix("[]")
    if top not in fields.document_fields:
        raise bad_request(1449, f"Invalid field '{flt.path}' in property filter.")
    return _document_condition(fields.model, reader, flt)


def _match_in_python(actual: str, flt: PropertyFilter) -> bool:
    if flt.operator == "==":
        return actual in flt.values
    if flt.operator == "!=":
        return actual not in flt.values
    raise bad_request(1448, f"Operator '{flt.operator}' is not supported for '{flt.path}'.")


def _match_constant(value: str, flt: PropertyFilter) -> bool:
    """Booleans compare without case (`==true`, `==True`), like boolean columns."""
    if value in ("true", "false"):
        for given in flt.values:
            _parse_bool(given, flt.path)
        flt = replace(flt, values=tuple(v.lower() for v in flt.values))
    return _match_in_python(value, flt)


def tenant_scope(model: type[ResourceColumns], tenant: Tenant) -> ColumnElement[bool]:
    return and_(model.org_id == tenant.org_id, model.sandbox_id == tenant.sandbox_id)


def sort_column(fields: ResourceFields, query: ListQuery) -> ColumnField:
    spec = fields.columns.get(query.order.field)
    if spec is None:
        raise bad_request(1433, f"Invalid orderby field '{query.order.field}'.")
    return spec


def filter_conditions(
    dialect: str, fields: ResourceFields, tenant: Tenant, query: ListQuery
) -> list[ColumnElement[bool]]:
    """The query's filters (the tenant's sandbox name decides `sandboxName` filters)."""
    reader = JsonReader(dialect)
    return [filter_condition(fields, tenant, reader, f) for f in query.filters]


def _conditions(
    session: Session, fields: ResourceFields, tenant: Tenant, query: ListQuery
) -> list[ColumnElement[bool]]:
    dialect = session.get_bind().dialect.name
    return [tenant_scope(fields.model, tenant), *filter_conditions(dialect, fields, tenant, query)]


def build_select(
    session: Session, fields: ResourceFields, tenant: Tenant, query: ListQuery
) -> Select[Any]:
    return select(fields.model).where(*_conditions(session, fields, tenant, query))


def count_rows(session: Session, fields: ResourceFields, tenant: Tenant, query: ListQuery) -> int:
    statement = build_select(session, fields, tenant, query)
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    return int(total or 0)
