"""Which columns and types a run writes: the table's, else the catalog's, else the source's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from sluice.lake.schema import SYSTEM_COLUMNS, catalog_schema_to_arrow

_SYSTEM_NAMES = {f.name for f in SYSTEM_COLUMNS}


def _delta_compatible(field: pa.Field) -> pa.Field:
    """Source types Delta cannot store as such become their nearest Delta type."""
    kind = field.type
    if pa.types.is_timestamp(kind) and kind.unit != "us":
        return field.with_type(pa.timestamp("us", tz=kind.tz))
    if pa.types.is_large_string(kind):
        return field.with_type(pa.string())
    if pa.types.is_large_binary(kind):
        return field.with_type(pa.binary())
    if pa.types.is_uint32(kind) or pa.types.is_uint64(kind):
        return field.with_type(pa.int64())
    if pa.types.is_uint8(kind) or pa.types.is_uint16(kind):
        return field.with_type(pa.int32())
    if pa.types.is_null(kind):
        return field.with_type(pa.string())
    return field


def existing_table_schema(table_uri: str) -> pa.Schema | None:
    try:
        table = DeltaTable(table_uri)
    except TableNotFoundError:
        return None
    return pa.schema(table.schema().to_arrow())


def target_schema(
    table_uri: str,
    catalog_schema: dict[str, Any] | None,
    source_schema: pa.Schema,
    *,
    drop: Sequence[str] = (),
) -> pa.Schema:
    """The dataset columns a run maps its source onto (system columns excluded)."""
    existing = existing_table_schema(table_uri)
    if existing is not None:
        return _without(existing, _SYSTEM_NAMES)
    if catalog_schema and catalog_schema.get("fields"):
        return catalog_schema_to_arrow(list(catalog_schema["fields"]))
    fields = [_delta_compatible(f) for f in source_schema if f.name not in set(drop)]
    return pa.schema(fields)


def _without(schema: pa.Schema, names: Iterable[str]) -> pa.Schema:
    excluded = set(names)
    return pa.schema([f for f in schema if f.name not in excluded])
