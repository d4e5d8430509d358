"""The Parquet files a run writes: zstd, no dictionaries, row-group statistics, in every write
mode (the choice is measured in bench/README.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from lake_helpers import INGESTED_AT, full_schema, run_batches

from sluice.lake.parquet_format import ROW_GROUP_ROWS
from sluice.lake.schema import add_system_columns
from sluice.lake.writer import WriteMode, WritePlan, write_run

DATA = pa.schema([
    ("id", pa.int64()), ("at", pa.timestamp("us", tz="UTC")), ("status", pa.string()),
    ("payload", pa.binary()), ("amount", pa.decimal128(12, 2)),
])
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _rows(ids: range) -> list[dict[str, Any]]:
    return [{"id": i, "at": T0 + timedelta(seconds=i), "status": ("new", "paid")[i % 2],
             "payload": b"\x00" * (i % 3), "amount": None} for i in ids]


def _files(uri: str) -> list[pq.FileMetaData]:
    table = DeltaTable(uri)
    return [pq.ParquetFile(Path(uri) / name).metadata for name in table.file_uris()]


@pytest.mark.parametrize("mode", ["append", "replaceWindow", "merge"])
def test_run_files_are_zstd_without_dictionaries(tmp_path: Path, mode: WriteMode
                                                            ) -> None:
    uri = str(tmp_path / "t")
    # merge writes through its own path once the table exists: write twice.
    for run in ("r1", "r2"):
        plan = WritePlan(uri, run, mode, merge_keys=("id",) if mode == "merge" else ())
        write_run(plan, full_schema(DATA), run_batches(DATA, _rows(range(1000)), run))
    (metadata, *_rest) = _files(uri)
    group = metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert {c.compression for c in columns.values()} == {"ZSTD"}
    dictionary = {name for name, c in columns.items() if "PLAIN_DICTIONARY" in c.encodings
                  or "RLE_DICTIONARY" in c.encodings}
    # Not even for a two-valued text column, where delta-rs's default would build one.
    assert dictionary == set()
    assert not any(metadata.row_group(0).column(i).has_dictionary_page
                   for i in range(group.num_columns))
    stats = columns["id"].statistics
    assert stats is not None and stats.has_min_max
    assert (stats.min, stats.max) == (0, 999)


def test_row_groups_are_bounded_so_a_large_run_holds_little_in_memory(tmp_path: Path) -> None:
    uri = str(tmp_path / "t")
    data = pa.schema([("id", pa.int64())])
    batches = (pa.record_batch([pa.array(range(start, start + 50_000))], schema=data)
               for start in range(0, 300_000, 50_000))
    schema = full_schema(data)
    write_run(WritePlan(uri, "r1", "append"), schema,
              (add_system_columns(b, "r1", INGESTED_AT, None) for b in batches))
    groups = [metadata.row_group(i).num_rows for metadata in _files(uri)
              for i in range(metadata.num_row_groups)]
    assert sum(groups) == 300_000
    assert len(groups) >= 3 and max(groups) <= ROW_GROUP_ROWS
