"""Helpers of the lake tests: run batches with system columns, table contents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from sluice.lake.schema import add_system_columns, with_system_columns

INGESTED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def run_batches(
    data: pa.Schema, rows: list[dict[str, Any]], run_id: str, *, batch_rows: int = 1000
) -> Iterator[pa.RecordBatch]:
    """`rows` (data columns only) as batches carrying the system columns of `run_id`."""
    for offset in range(0, len(rows), batch_rows):
        batch = pa.RecordBatch.from_pylist(rows[offset : offset + batch_rows], schema=data)
        yield add_system_columns(batch, run_id, INGESTED_AT, None)


def full_schema(data: pa.Schema) -> pa.Schema:
    return with_system_columns(data, file_source=False)


def read_table(table_uri: str) -> pa.Table:
    """The whole table, read without pyarrow's thread pool (see `sluice.lake.reader`)."""
    return DeltaTable(table_uri).to_pyarrow_dataset().to_table(use_threads=False)


def data_rows(table_uri: str, key: str) -> list[dict[str, Any]]:
    """The table's rows, sorted by `key`."""
    rows = read_table(table_uri).to_pylist()
    return sorted(rows, key=lambda row: (row[key] is None, row[key]))


def version(table_uri: str) -> int | None:
    try:
        return DeltaTable(table_uri).version()
    except Exception:
        return None
