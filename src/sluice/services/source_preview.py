"""The flat preview document of one opened source read: its columns, named as the dataset
catalog names them, and its first rows as JSON values (see sluice.services.explore).

Apart from sluice.services.explore so that Arrow loads with the first preview, not with the
API: listings need none of it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pyarrow as pa

from sluice.connectors.reading import SOURCE_FILE_COLUMN, SourceRead
from sluice.lake.reader import json_value
from sluice.lake.schema import dataset_type


def flat_document(read: SourceRead, rows_wanted: int) -> dict[str, Any]:
    """The read's columns and up to `rows_wanted` rows (none: the schema only); closes it."""
    try:
        # File readers tag rows with their file; a preview is of one object: leave it out.
        schema = [f for f in read.schema if f.name != SOURCE_FILE_COLUMN]
        rows = _first_rows(read, rows_wanted) if rows_wanted else []
    finally:
        read.close()
    names = [f.name for f in schema]
    return {
        "format": "flat",
        "schema": {"columns": [{"name": f.name, "type": catalog_type(f.type)} for f in schema]},
        "data": [{name: json_value(row.get(name)) for name in names} for row in rows],
    }


def _first_rows(read: SourceRead, limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    batches = read.batches()
    try:
        for batch in batches:
            rows.extend(batch.slice(0, limit - len(rows)).to_pylist())
            if len(rows) >= limit:
                break
    finally:
        # Close the generator now rather than when it is garbage-collected: its cleanup
        # releases the reader's connection.
        if isinstance(batches, Generator):
            batches.close()
    return rows


def catalog_type(arrow: pa.DataType) -> str:
    """The dataset type a run would store a source column as (see engine.target_schema:
    unsigned integers widen, an all-null column is a string), named as the catalog names it."""
    if pa.types.is_uint32(arrow) or pa.types.is_uint64(arrow):
        return "long"
    if pa.types.is_uint8(arrow) or pa.types.is_uint16(arrow):
        return "integer"
    if pa.types.is_null(arrow):
        return "string"
    return dataset_type(arrow)
