"""From JSON pages to Arrow rows: selecting the records, inferring their schema from the
first page, conforming every later record to it, and reading delta values as instants.

Inference: objects become structs, arrays lists, integers int64, other numbers float64,
booleans bool. Strings that are all ISO 8601 date-times become timestamps (microseconds; UTC
when every value carries a zone, zone-less when none does), so a time field is typed the same
on a full load and on a windowed run and can carry a `replaceWindow` predicate; other strings
stay strings (the map stage casts them to the dataset's types).
A field that is always null, or whose values disagree in type, is text: non-string values
of a text field are kept as their JSON text, so it never loses a value.

A later record is conformed to the first page's schema: fields the schema lacks are left
out, missing ones are null; a value that does not fit its field's type (a string where the
first page had numbers) raises `SchemaMismatchError`, which the reader turns into a bad row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import jsonpath
import pyarrow as pa

from sluice.connectors.tables.windowing import zone

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TEXT = pa.string()
# Epoch numbers at least this large are milliseconds (in seconds it would be the year 5138).
_MILLIS_THRESHOLD = 100_000_000_000
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
# A date and a time of day (a bare date or a bare number is not taken for a timestamp).
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_UTC_MICROS = pa.timestamp("us", tz="UTC")
_NAIVE_MICROS = pa.timestamp("us")


class SchemaMismatchError(ValueError):
    """A value that does not fit the schema; the message names the field, never the value."""


class RecordsNotFoundError(ValueError):
    """The records path selects no list of records in a body; the message says why."""


def select_records(
    body: Any, path: jsonpath.JSONPath | jsonpath.CompoundJSONPath, path_text: str
) -> list[Any]:
    """The records `path` selects in a page's body.

    A path selecting one array (`$`, `$.items`) yields its elements; a path selecting objects
    (`$.data[*]`) yields them. A path ending in `[*]` whose array is there but empty yields no
    records; a path that selects nothing, or only scalars, raises RecordsNotFoundError.
    """
    matches = path.findall(body)
    if len(matches) == 1 and isinstance(matches[0], list):
        return list(matches[0])
    if any(isinstance(m, dict) for m in matches):
        return list(matches)  # stray scalars among the objects become bad rows
    if matches:
        raise RecordsNotFoundError(
            f"recordsPath {path_text!r} selects a JSON {_json_kind(matches[0])}, not records "
            "(objects, or an array of them); check recordsPath."
        )
    if path_text.endswith("[*]"):
        parent = jsonpath.findall(path_text[: -len("[*]")], body)
        if len(parent) == 1 and isinstance(parent[0], list):
            return []
    raise RecordsNotFoundError(
        f"recordsPath {path_text!r} selects no list of records in the response "
        f"(a JSON {_json_kind(body)}); check recordsPath."
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object with fields " + ", ".join(list(value)[:10])
    return _json_type(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def infer_type(values: Iterable[Any]) -> pa.DataType:
    """The Arrow type of a field from its values on the first page (see the module doc)."""
    present = [v for v in values if v is not None]
    if not present:
        return _TEXT
    if all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if all(_is_int(v) for v in present):
        return pa.int64() if all(_INT64_MIN <= v <= _INT64_MAX for v in present) else _TEXT
    if all(_is_number(v) for v in present):
        return pa.float64()
    if all(isinstance(v, str) for v in present):
        return _time_type(present)
    if all(isinstance(v, dict) for v in present):
        names = list(dict.fromkeys(k for v in present for k in v))
        if not names:
            return _TEXT
        return pa.struct([pa.field(n, infer_type(v.get(n) for v in present)) for n in names])
    if all(isinstance(v, list) for v in present):
        return pa.list_(infer_type(item for v in present for item in v))
    return _TEXT


def _parse_date_time(text: str) -> datetime | None:
    if not _ISO_DATE_TIME.match(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _time_type(values: Sequence[str]) -> pa.DataType:
    """Timestamp when every value is an ISO 8601 date-time, all with a zone or all without."""
    parsed = [_parse_date_time(v.strip()) for v in values]
    if any(p is None for p in parsed):
        return _TEXT
    zoned = {p.tzinfo is not None for p in parsed if p is not None}
    if zoned == {True}:
        return _UTC_MICROS
    return _NAIVE_MICROS if zoned == {False} else _TEXT


def _conform_time(value: Any, kind: pa.TimestampType) -> datetime | None:
    """A date-time text as the datetime Arrow stores; None when it does not fit `kind`."""
    parsed = _parse_date_time(value.strip()) if isinstance(value, str) else None
    if parsed is None or (parsed.tzinfo is not None) != (kind.tz is not None):
        return None
    return parsed


def infer_schema(records: Sequence[Mapping[str, Any]]) -> pa.Schema:
    names = list(dict.fromkeys(k for r in records for k in r))
    return pa.schema([pa.field(n, infer_type(r.get(n) for r in records)) for n in names])


def conform(value: Any, kind: pa.DataType, where: str) -> Any:
    """`value` as a Python value Arrow stores in a field of type `kind`; SchemaMismatchError
    if it does not fit."""
    if value is None:
        return None
    if kind == _TEXT:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if pa.types.is_int64(kind):
        if _is_int(value) and _INT64_MIN <= value <= _INT64_MAX:
            return value
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            return int(value)
    elif pa.types.is_float64(kind):
        if _is_number(value):
            return float(value)
    elif pa.types.is_boolean(kind):
        if isinstance(value, bool):
            return value
    elif pa.types.is_timestamp(kind):
        instant = _conform_time(value, kind)
        if instant is not None:
            return instant
    elif pa.types.is_struct(kind):
        if isinstance(value, dict):
            return {
                f.name: conform(value.get(f.name), f.type, f"{where}.{f.name}")
                for f in (kind.field(i) for i in range(kind.num_fields))
            }
    elif pa.types.is_list(kind) and isinstance(value, list):
        return [conform(item, kind.value_type, f"{where}[]") for item in value]
    raise SchemaMismatchError(
        f"field '{where}' holds a JSON {_json_type(value)}, not {_describe(kind)}"
    )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if _is_int(value):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "object" if isinstance(value, dict) else type(value).__name__


def _describe(kind: pa.DataType) -> str:
    if pa.types.is_int64(kind):
        return "an integer (int64)"
    if pa.types.is_float64(kind):
        return "a number"
    if pa.types.is_boolean(kind):
        return "a boolean"
    if pa.types.is_timestamp(kind):
        zoned = "with" if kind.tz is not None else "without"
        return f"an ISO 8601 date-time {zoned} a zone"
    if pa.types.is_struct(kind):
        return "an object"
    return "an array" if pa.types.is_list(kind) else str(kind)


def conform_record(record: Any, schema: pa.Schema) -> dict[str, Any]:
    """A record as a row of `schema` (extra fields left out, missing ones null)."""
    if not isinstance(record, dict):
        raise SchemaMismatchError(f"the record is a JSON {_json_type(record)}, not an object")
    return {f.name: conform(record.get(f.name), f.type, f.name) for f in schema}


def find_field(schema: pa.Schema, name: str) -> str | None:
    """The field named exactly `name`, else the only one equal to it ignoring case."""
    if name in schema.names:
        return name
    folded = [n for n in schema.names if n.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def delta_instant(value: Any, timezone: str) -> float | None:
    """A delta value as epoch seconds: ISO 8601 text (zone-less in `timezone`; a date is its
    midnight), or an epoch number in seconds, or milliseconds when it is that large.
    None for null; SchemaMismatchError for anything else."""
    if value is None:
        return None
    if _is_number(value):
        return _epoch(float(value))
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text):
            return _epoch(float(text))
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise SchemaMismatchError("is not an ISO 8601 time or an epoch number") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone(timezone))
        return parsed.timestamp()
    raise SchemaMismatchError(
        f"is a JSON {_json_type(value)}, not an ISO 8601 time or an epoch number"
    )


def _epoch(number: float) -> float:
    return number / 1000 if abs(number) >= _MILLIS_THRESHOLD else number
