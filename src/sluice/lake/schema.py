"""Arrow schemas of datasets: catalog column types, and the `_sluice_*` system columns."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from sluice.connectors.reading import SOURCE_FILE_COLUMN

RUN_ID_COLUMN = "_sluice_run_id"
INGESTED_AT_COLUMN = "_sluice_ingested_at"

SYSTEM_COLUMNS: tuple[pa.Field, ...] = (
    pa.field(RUN_ID_COLUMN, pa.string(), nullable=False),
    pa.field(INGESTED_AT_COLUMN, pa.timestamp("us", tz="UTC"), nullable=False),
    # File sources only: the file each row came from.
    pa.field(SOURCE_FILE_COLUMN, pa.string(), nullable=True),
)
SYSTEM_COLUMN_NAMES = frozenset(field.name for field in SYSTEM_COLUMNS)

# Strings are `string` (32-bit offsets): that is what deltalake reads a Delta `string` back as.
_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "long": pa.int64(),
    "integer": pa.int32(),
    "short": pa.int16(),
    "byte": pa.int8(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def arrow_type(dataset_type: str) -> pa.DataType:
    """The Arrow type a dataset column type (see `domain.dataset_types`) is stored as."""
    text = dataset_type.strip().lower()
    if text in _PRIMITIVES:
        return _PRIMITIVES[text]
    match = _DECIMAL.match(text)
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    raise ValueError(f"Unknown dataset column type '{dataset_type}'.")


def dataset_type(arrow: pa.DataType) -> str:
    """The dataset column type name of an Arrow type (the inverse of `arrow_type`)."""
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_timestamp(arrow):
        return "timestamp" if arrow.tz is not None else "timestamp_ntz"
    if pa.types.is_large_string(arrow) or pa.types.is_string_view(arrow):
        return "string"
    if pa.types.is_large_binary(arrow) or pa.types.is_binary_view(arrow):
        return "binary"
    for name, candidate in _PRIMITIVES.items():
        if arrow == candidate:
            return name
    return str(arrow)


def catalog_schema_to_arrow(fields: list[dict[str, Any]]) -> pa.Schema:
    """Arrow schema of catalog `fields` (`{name, type, nullable}`; nullable by default)."""
    return pa.schema(
        [
            pa.field(f["name"], arrow_type(f["type"]), nullable=bool(f.get("nullable", True)))
            for f in fields
        ]
    )


def with_system_columns(schema: pa.Schema, *, file_source: bool) -> pa.Schema:
    """`schema` followed by the system columns (`_sluice_source_file` only for file sources)."""
    clashes = sorted(SYSTEM_COLUMN_NAMES.intersection(schema.names))
    if clashes:
        raise ValueError(f"Schema already has system columns: {', '.join(clashes)}.")
    extra = [f for f in SYSTEM_COLUMNS if file_source or f.name != SOURCE_FILE_COLUMN]
    return pa.schema(list(schema) + extra, metadata=schema.metadata)


def add_system_columns(
    batch: pa.RecordBatch, run_id: str, ingested_at: datetime, source_file: str | None
) -> pa.RecordBatch:
    """`batch` with the system columns appended as constant arrays.

    `ingested_at` must be timezone-aware. `_sluice_source_file` is added only when
    `source_file` is given (file sources), matching `with_system_columns(file_source=True)`.
    """
    if ingested_at.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware.")
    fields: Mapping[str, pa.Field] = {f.name: f for f in SYSTEM_COLUMNS}
    rows = batch.num_rows
    values: list[tuple[str, Any]] = [
        (RUN_ID_COLUMN, run_id),
        (INGESTED_AT_COLUMN, ingested_at.astimezone(UTC)),
    ]
    if source_file is not None:
        values.append((SOURCE_FILE_COLUMN, source_file))
    arrays = list(batch.columns)
    schema_fields = list(batch.schema)
    for name, value in values:
        field = fields[name]
        arrays.append(pa.repeat(pa.scalar(value, type=field.type), rows))
        schema_fields.append(field)
    return pa.RecordBatch.from_arrays(
        arrays, schema=pa.schema(schema_fields, metadata=batch.schema.metadata)
    )
