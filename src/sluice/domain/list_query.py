"""The shared list query: `property` filters, `orderby`, `limit`, `count`, `continuationToken`.

Parsing only; `store.list_query_sql` turns a `ListQuery` into SQL. Error codes are the reference's
(section 2.5): 1440 unimplemented operator, 1443 several values with a comparison, 1450
invalid operator, 1451 unknown parameter, 1452 invalid value, 1453 empty value, 1401 limit
with count, 1432 / 1433 bad orderby prefix / field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sluice.domain.errors import bad_request
from sluice.domain.numbers import ascii_whole_number, whole_number

KNOWN_PARAMS = frozenset({"property", "orderby", "limit", "count", "continuationToken", "start"})
OPERATORS = ("==", "!=", ">=", "<=", ">", "<")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\])?(\.[A-Za-z_@:][A-Za-z0-9_@:-]*(\[\])?)*")
_OPERATOR_CHARS = re.compile(r"^[=!<>~:]+")


@dataclass(frozen=True)
class PropertyFilter:
    path: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class OrderBy:
    field: str
    descending: bool


@dataclass(frozen=True)
class ListQuery:
    filters: tuple[PropertyFilter, ...] = ()
    order: OrderBy = OrderBy("createdAt", descending=True)
    limit: int = 50
    count_only: bool = False
    # Keyset position after which the page starts: (sort value, id).
    after: tuple[Any, str] | None = None
    # The collection listed (its path): a token from /runs means nothing to /flows.
    resource: str = ""

    def signature(self) -> str:
        """What a continuation token must have been issued for: resource, filters, order."""
        text = json.dumps(
            [[f.path, f.operator, list(f.values)] for f in self.filters]
            + [self.order.field, self.order.descending, self.resource]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_filter(raw: str) -> PropertyFilter:
    match = _FIELD.match(raw)
    if not match or not match.group(0):
        raise bad_request(1449, f"Invalid field in property filter '{raw}'.")
    path = match.group(0)
    rest = raw[len(path) :]
    op_match = _OPERATOR_CHARS.match(rest)
    operator = op_match.group(0) if op_match else ""
    if "~" in operator:
        raise bad_request(1440, f"Operator '{operator}' is not implemented.")
    if operator not in OPERATORS:
        raise bad_request(1450, f"Invalid operator '{operator or rest[:2]}' in property '{raw}'.")
    value_text = rest[len(operator) :]
    values = tuple(_unquote(v.strip()) for v in _split_values(value_text))
    if not value_text.isprintable():
        raise bad_request(1452, f"Invalid value for property '{path}': control characters.")
    if value_text.strip() == "" or any(v == "" for v in values):
        raise bad_request(1453, f"Empty value for property '{path}'.")
    if len(values) > 1 and operator not in ("==", "!="):
        raise bad_request(
            1443, f"Operator '{operator}' is not allowed with multiple values for '{path}'."
        )
    return PropertyFilter(path=path, operator=operator, values=values)


def _split_values(text: str) -> list[str]:
    """Splits on commas, except inside a value quoted from its start (`name=="a,b"`)."""
    values: list[str] = []
    current = ""
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'" and not current.strip():
            quote = char
        elif char == ",":
            values.append(current)
            current = ""
            continue
        current += char
    values.append(current)
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_order(raw: str) -> OrderBy:
    # A literal '+' arrives as a space when the client did not percent-encode it.
    text = raw.strip() if raw.startswith(" ") else raw
    descending = False
    if text[:1] in ("+", "-"):
        descending = text[0] == "-"
        text = text[1:]
    if not text or not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", text):
        raise bad_request(1432, f"Invalid orderby value '{raw}'; use field, +field or -field.")
    return OrderBy(field=text, descending=descending)


def parse_limit(raw: str, maximum: int) -> int:
    limit = ascii_whole_number(raw, spaces=True)
    if limit is None:
        raise bad_request(1452, f"Invalid value '{raw}' for limit; give a whole number.")
    if not 1 <= limit <= maximum:
        raise bad_request(1452, f"limit must be between 1 and {maximum}.")
    return limit


def parse_list_query(
    params: Mapping[str, Sequence[str]], default_limit: int, max_limit: int, resource: str = ""
) -> ListQuery:
    for name in params:
        if name not in KNOWN_PARAMS:
            raise bad_request(1451, f"Unknown query parameter '{name}'.")
    filters = tuple(parse_filter(p) for p in params.get("property", []))
    orders = params.get("orderby", [])
    order = parse_order(orders[-1]) if orders else OrderBy("createdAt", descending=True)
    count_values = params.get("count", [])
    count_only = bool(count_values) and count_values[-1].lower() == "true"
    if count_values and count_values[-1].lower() not in ("true", "false"):
        raise bad_request(1452, "count must be true or false.")
    limits = params.get("limit", [])
    if count_only and limits:
        raise bad_request(1401, "The parameters 'limit' and 'count' cannot be used together.")
    limit = parse_limit(limits[-1], max_limit) if limits else default_limit
    query = ListQuery(
        filters=filters, order=order, limit=limit, count_only=count_only, resource=resource
    )
    tokens = params.get("continuationToken", [])
    if tokens:
        query = _resume(
            query,
            tokens[-1],
            explicit_limit=bool(limits),
            explicit_shape=bool(params.get("property")) or bool(orders),
            max_limit=max_limit,
        )
    return query


def encode_token(query: ListQuery, last_value: Any, last_id: str) -> str:
    payload = {
        "f": [[f.path, f.operator, list(f.values)] for f in query.filters],
        "o": [query.order.field, query.order.descending],
        "l": query.limit,
        "s": query.signature(),
        "a": [last_value, last_id],
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    # No '=' padding: some clients split the next link on '=' to find the token.
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _resume(
    query: ListQuery, token: str, *, explicit_limit: bool, explicit_shape: bool, max_limit: int
) -> ListQuery:
    invalid = bad_request(1452, "Invalid continuationToken; start again from the first page.")
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        filters = tuple(
            PropertyFilter(str(p), str(op), tuple(str(v) for v in values))
            for p, op, values in payload["f"]
        )
        order = OrderBy(str(payload["o"][0]), bool(payload["o"][1]))
        limit = whole_number(payload["l"])
        last_value, last_id = payload["a"]
        signature = str(payload["s"])
    except (binascii.Error, ValueError, KeyError, TypeError, IndexError, RecursionError):
        raise invalid from None
    # The token is client-held: anything it carries must be as valid as a fresh query.
    if limit is None or not 1 <= limit <= max_limit:
        raise invalid
    if not all(_is_valid_filter(f) for f in filters):
        raise invalid
    if not isinstance(last_id, str):
        raise invalid
    resumed = ListQuery(
        filters=filters,
        order=order,
        limit=query.limit if explicit_limit else limit,
        count_only=query.count_only,
        after=(last_value, last_id),
        resource=query.resource,
    )
    if resumed.signature() != signature:
        raise invalid
    if explicit_shape and (query.filters != filters or query.order != order):
        raise bad_request(
            1452, "continuationToken was issued for different property or orderby parameters."
        )
    return resumed


def _is_valid_filter(flt: PropertyFilter) -> bool:
    path = _FIELD.match(flt.path)
    return (
        path is not None
        and path.group(0) == flt.path
        and flt.operator in OPERATORS
        and bool(flt.values)
        and all(flt.values)
        and (len(flt.values) == 1 or flt.operator in ("==", "!="))
    )
