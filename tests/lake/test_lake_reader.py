"""Reading datasets back: statistics from the log, JSON-safe previews of a few rows."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from lake_helpers import INGESTED_AT, full_schema, run_batches

from sluice.lake.reader import TableStats, preview_rows, table_stats
from sluice.lake.schema import add_system_columns, catalog_schema_to_arrow
from sluice.lake.writer import WritePlan, write_run

CATALOG: list[dict[str, Any]] = [
    {"name": "id", "type": "long", "nullable": False},
    {"name": "Amount", "type": "decimal(10,2)"},
    {"name": "tiny", "type": "decimal(12,10)"},
    {"name": "at", "type": "timestamp"},
    {"name": "local", "type": "timestamp_ntz"},
    {"name": "day", "type": "date"},
    {"name": "blob", "type": "binary"},
    {"name": "ratio", "type": "double"},
    {"name": "ok", "type": "boolean"},
    {"name": "note", "type": "string"},
    {"name": "small", "type": "short"},
]
DATA = catalog_schema_to_arrow(CATALOG)


def write(uri: str, run_id: str, rows: list[dict[str, object]]) -> None:
    write_run(WritePlan(uri, run_id, "append"), full_schema(DATA), run_batches(DATA, rows, run_id))


def test_missing_table(table_uri: str) -> None:
    assert table_stats(table_uri) is None
    assert preview_rows(table_uri, 10) == ([], [])


def test_stats_count_rows_files_and_bytes(table_uri: str) -> None:
    write(table_uri, "r1", [{"id": i} for i in range(10)])
    write(table_uri, "r2", [{"id": i} for i in range(10, 15)])
    stats = table_stats(table_uri)
    files = [f.removeprefix("file://") for f in DeltaTable(table_uri).file_uris()]
    assert stats == TableStats(
        version=1, row_count=15, file_count=2, size_bytes=sum(os.path.getsize(f) for f in files)
    )
    assert len(files) == 2


def test_preview_is_json_safe_with_typed_values(table_uri: str) -> None:
    row = {
        "id": 1,
        "Amount": Decimal("12.30"),
        "tiny": Decimal("0E-10"),
        "at": datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=UTC),
        "local": datetime(2024, 5, 1, 10, 30),
        "day": date(2024, 5, 1),
        "blob": b"\x00\xffsluice",
        "ratio": float("nan"),
        "ok": True,
        "note": "héllo",
        "small": -3,
    }
    write(table_uri, "r1", [row, {"id": 2, "ratio": float("-inf")}])
    columns, rows = preview_rows(table_uri, 10)
    assert columns == [{"name": f["name"], "type": f["type"]} for f in CATALOG] + [
        {"name": "_sluice_run_id", "type": "string"},
        {"name": "_sluice_ingested_at", "type": "timestamp"},
    ]
    json.dumps({"columns": columns, "rows": rows}, allow_nan=False)
    by_id = {r["id"]: r for r in rows}
    assert by_id[1] == {
        "id": 1,
        "Amount": "12.30",
        "tiny": "0.0000000000",
        "at": "2024-05-01T08:30:00.123456+00:00",
        "local": "2024-05-01T10:30:00",
        "day": "2024-05-01",
        "blob": base64.b64encode(b"\x00\xffsluice").decode(),
        "ratio": "NaN",
        "ok": True,
        "note": "héllo",
        "small": -3,
        "_sluice_run_id": "r1",
        "_sluice_ingested_at": INGESTED_AT.isoformat(),
    }
    assert by_id[2]["ratio"] == "-Infinity" and by_id[2]["Amount"] is None


def test_preview_stops_at_the_limit(table_uri: str) -> None:
    for k in range(3):
        write(table_uri, f"r{k}", [{"id": k * 100 + i} for i in range(50)])
    columns, rows = preview_rows(table_uri, 70)
    assert len(rows) == 70 and len({r["id"] for r in rows}) == 70
    assert len(preview_rows(table_uri, 1000)[1]) == 150
    assert preview_rows(table_uri, 0) == (columns, [])


def test_preview_reads_only_the_files_it_needs(table_uri: str) -> None:
    for k in range(3):
        write(table_uri, f"r{k}", [{"id": k * 100 + i} for i in range(50)])
    fragments = list(DeltaTable(table_uri).to_pyarrow_dataset().get_fragments())
    for fragment in fragments[1:]:  # corrupt every file but the first: reading one would fail
        path = os.path.join(table_uri, fragment.path)
        assert os.path.isfile(path)
        with open(path, "wb") as handle:
            handle.write(b"not parquet")
    assert len(preview_rows(table_uri, 20)[1]) == 20
    with pytest.raises(pa.ArrowInvalid):
        preview_rows(table_uri, 100)


def test_preview_of_a_file_source_table(table_uri: str) -> None:
    data = pa.schema([("line", pa.string())])
    schema = full_schema(data).append(pa.field("_sluice_source_file", pa.string()))
    batch = add_system_columns(
        pa.RecordBatch.from_pylist([{"line": "a"}], schema=data), "f1", INGESTED_AT, "in/a.csv"
    )
    write_run(WritePlan(table_uri, "f1", "append"), schema, [batch])
    columns, rows = preview_rows(table_uri, 5)
    assert columns[-1] == {"name": "_sluice_source_file", "type": "string"}
    assert rows == [
        {
            "line": "a",
            "_sluice_run_id": "f1",
            "_sluice_ingested_at": "2024-06-01T12:00:00+00:00",
            "_sluice_source_file": "in/a.csv",
        }
    ]
