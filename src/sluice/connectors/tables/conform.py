"""Casting what a driver returned to the reflected schema, with a coded error naming the column
when a value does not fit (shared by the ADBC and connectorx readers)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.batching import one_line
from sluice.connectors.errors import UnreadableDataError


def cast_column(array: pa.Array, field: pa.Field, table_name: str) -> pa.Array:
    """`array` as `field`'s type; UnreadableDataError (2001) when a value cannot be."""
    if array.type == field.type:
        return array
    try:
        return pc.cast(array, field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise UnreadableDataError(
            f'Column "{field.name}" of table "{table_name}" holds a value that cannot'
            f" be read as {field.type}: {one_line(str(error))}"
        ) from None


def conform(batch: pa.RecordBatch, schema: pa.Schema, table_name: str) -> pa.RecordBatch:
    """`batch` with exactly `schema`'s types (unwrapping ADBC's opaque extension types)."""
    arrays = []
    for array, field in zip(batch.columns, schema, strict=True):
        if isinstance(array, pa.ExtensionArray):
            array = array.storage
        arrays.append(cast_column(array, field, table_name))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
