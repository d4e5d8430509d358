"""Reading datasets back: table statistics and a JSON-safe preview of a few rows.

Scans run without pyarrow's thread pool: a threaded pyarrow scan in a process that also
writes with deltalake intermittently aborts that process at exit (std::terminate, exit 134;
delta-io/delta-rs#2184, apache/arrow#34314).

The API imports this module; pyarrow (and, through the table, deltalake) loads with the first
read, so an idle server holds none of it.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sluice.lake.commits import RUN_ID_KEY
from sluice.lake.location import TableRef, as_lake_table

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class TableStats:
    version: int
    row_count: int
    file_count: int
    size_bytes: int


def table_stats(ref: TableRef) -> TableStats | None:
    """Version, rows, live files and their bytes of the table; None if it does not exist yet.

    Counts come from the add actions' statistics (no data is read), unless a file lacks
    them; then the Parquet footers are read.
    """
    import pyarrow as pa

    table = as_lake_table(ref).open()
    if table is None:
        return None
    actions = pa.table(table.get_add_actions())
    records = actions.column("num_records").to_pylist()
    exact = None not in records
    row_count = (
        sum(records) if exact else int(table.to_pyarrow_dataset().count_rows(use_threads=False))
    )
    return TableStats(
        version=table.version(),
        row_count=row_count,
        file_count=actions.num_rows,
        size_bytes=sum(actions.column("size_bytes").to_pylist()),
    )


def json_value(value: Any) -> Any:
    """A Python value from Arrow as JSON: decimals as strings, times ISO-8601, bytes base64."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    return str(value)


def preview_rows(ref: TableRef, limit: int) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The table's columns (`{name, type}`, dataset type names) and up to `limit` rows.

    Files are read one after another, stopping once `limit` rows are in hand. A missing table
    gives no columns and no rows.
    """
    from sluice.lake.schema import dataset_type

    table = as_lake_table(ref).open()
    if table is None:
        return [], []
    dataset = table.to_pyarrow_dataset()
    columns = [{"name": f.name, "type": dataset_type(f.type)} for f in dataset.schema]
    parts: list[pa.Table] = []
    remaining = max(limit, 0)
    for fragment in dataset.get_fragments() if remaining else ():
        # One file at a time, and within it only the row groups needed.
        part = fragment.scanner(schema=dataset.schema, use_threads=False).head(remaining)
        parts.append(part)
        remaining -= part.num_rows
        if remaining <= 0:
            break
    rows = [
        {name: json_value(value) for name, value in row.items()}
        for part in parts
        for row in part.to_pylist()
    ]
    return columns, rows


def table_history(ref: TableRef, limit: int) -> list[dict[str, Any]]:
    """The table's last `limit` commits, newest first: version, timestamp (epoch ms),
    operation and its parameters and metrics as Delta records them, and the run that wrote
    it. None written: []."""
    table = as_lake_table(ref).open()
    if table is None:
        return []
    return [
        {
            "version": commit.get("version"),
            "timestamp": commit.get("timestamp"),
            "operation": commit.get("operation"),
            "operationParameters": json_value(commit.get("operationParameters") or {}),
            "operationMetrics": json_value(commit.get("operationMetrics") or {}),
            # The Sluice run that wrote the commit (None for a commit made outside Sluice).
            "runId": commit.get(RUN_ID_KEY),
        }
        for commit in table.history(limit)
    ]
