"""The Catalog API's list query: `limit`, `start`, `orderBy`, `properties`, `property`
filters, simple filters (`name=a,b`, `name=!a`) and date ranges (`createdAfter`...).

Parsing only; `store.offset_pages` runs it. `property` takes the shared filter syntax
(`name==a`, `created>1700000000000`, dotted and `[]` paths); the Catalog's existence tests
(`property=name`, `property=!name`) and regular expressions (`~`) are not supported and
answer the shared codes (1450, 1440). `count=true` is Sluice's, as on Flow Service lists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sluice.domain.errors import bad_request
from sluice.domain.list_query import OrderBy, PropertyFilter, parse_filter

DEFAULT_LIMIT = 20  # the Catalog's default page
MAX_LIMIT = 100  # and its global maximum
MAX_START = 1_000_000
# Range parameters of the Catalog and the filter each one stands for.
RANGES = {
    "createdAfter": ("created", ">"),
    "createdBefore": ("created", "<"),
    "updatedAfter": ("updated", ">"),
    "updatedBefore": ("updated", "<"),
}
_ORDER = re.compile(r"^(?:(asc|desc):)?([A-Za-z_][A-Za-z0-9_]*)$")
_PROPERTY_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@:-]*$")


@dataclass(frozen=True)
class CatalogQuery:
    filters: tuple[PropertyFilter, ...] = ()
    order: tuple[OrderBy, ...] = (OrderBy("created", descending=True),)
    start: int = 0
    limit: int = DEFAULT_LIMIT
    # Top-level properties to show; None shows every one.
    properties: tuple[str, ...] | None = None
    # Sluice's extension, as on Flow Service lists: `count=true` answers `{"count": N}`.
    count_only: bool = False


def _whole_number(raw: str, name: str, low: int, high: int) -> int:
    text = raw.strip()
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise bad_request(
            1452,
            f"Invalid value '{raw[:40]}' for {name}; give a whole number from {low} to {high}.",
        )
    return int(text)


def parse_order(raw: str) -> tuple[OrderBy, ...]:
    """`name,desc:updated`: ascending unless `desc:`; several fields break ties in turn."""
    order = []
    for part in raw.split(","):
        match = _ORDER.match(part.strip())
        if match is None:
            raise bad_request(
                1432, f"Invalid orderBy value '{raw[:80]}'; use field, asc:field or desc:field."
            )
        order.append(OrderBy(match.group(2), descending=match.group(1) == "desc"))
    return tuple(order)


def parse_properties(raw: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in raw.split(","))
    if not all(_PROPERTY_NAME.match(n) for n in names):
        raise bad_request(1452, f"Invalid properties '{raw[:80]}'; give top-level names, a,b.")
    return names


def _simple_filter(name: str, raw: str) -> PropertyFilter:
    """`name=a,b` is any of; `name=!a,b` none of (the Catalog's simple filters)."""
    negated = raw.startswith("!")
    values = tuple(v.strip() for v in (raw[1:] if negated else raw).split(","))
    if not all(values):
        raise bad_request(1453, f"Empty value for '{name}'.")
    return PropertyFilter(name, "!=" if negated else "==", values)


def parse_catalog_query(
    params: Mapping[str, Sequence[str]], simple_fields: frozenset[str]
) -> CatalogQuery:
    """`simple_fields` are the fields a bare `field=value` parameter may filter on."""
    filters: list[PropertyFilter] = []
    for name, values in params.items():
        if name == "property":
            filters += [parse_filter(v) for v in values]
        elif name in RANGES:
            field, operator = RANGES[name]
            filters += [PropertyFilter(field, operator, (v.strip(),)) for v in values]
        elif name in simple_fields:
            filters += [_simple_filter(name, v) for v in values]
        elif name not in ("limit", "start", "orderBy", "properties", "count"):
            raise bad_request(1451, f"Unknown query parameter '{name}'.")
    query = CatalogQuery(filters=tuple(filters))
    if params.get("orderBy"):
        query = replace(query, order=parse_order(params["orderBy"][-1]))
    if params.get("limit"):
        query = replace(query, limit=_whole_number(params["limit"][-1], "limit", 1, MAX_LIMIT))
    if params.get("start"):
        query = replace(query, start=_whole_number(params["start"][-1], "start", 0, MAX_START))
    if params.get("properties"):
        query = replace(query, properties=parse_properties(params["properties"][-1]))
    if params.get("count"):
        flag = params["count"][-1].lower()
        if flag not in ("true", "false"):
            raise bad_request(1452, "count must be true or false.")
        query = replace(query, count_only=flag == "true")
    return query
