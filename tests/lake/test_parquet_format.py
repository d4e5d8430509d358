"""The Parquet files a run writes: zstd, no dictionaries, integer-like columns delta-encoded,
row-group statistics, in every write mode (the choices are measured in bench/README.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from lake_helpers import INGESTED_AT, full_schema, run_batches

from sluice.config import Settings
from sluice.lake.location import LakeLocation, LakeTable
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


def _encodings(metadata: pq.FileMetaData) -> dict[str, set[str]]:
    group = metadata.row_group(0)
    return {group.column(i).path_in_schema: set(group.column(i).encodings)
            for i in range(group.num_columns)}


# Every kind of column Delta stores, with the values that test an encoding of differences:
# the extremes of each integer width side by side (their differences overflow), nulls,
# decreasing runs. Names with a dot or a space are columns of their own, not paths.
WIDE = pa.schema([
    ("tiny", pa.int8()), ("small", pa.int16()), ("i32", pa.int32()), ("big", pa.int64()),
    ("day", pa.date32()), ("at", pa.timestamp("us", tz="UTC")),
    ("local at", pa.timestamp("us")), ("price.eur", pa.decimal128(9, 2)),
    ("amount", pa.decimal128(18, 4)), ("huge", pa.decimal128(38, 6)),
    ("ratio", pa.float64()), ("flag", pa.bool_()), ("name", pa.string()),
    ("blob", pa.binary()),
])
_EXTREMES = {"tiny": (-128, 127), "small": (-32768, 32767), "i32": (-(2**31), 2**31 - 1),
             "big": (-(2**63), 2**63 - 1)}


def _wide_rows(count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        extremes = {name: bounds[i % 2] for name, bounds in _EXTREMES.items()}
        null = i % 7 == 3
        rows.append({
            **extremes,
            "big": None if null else (extremes["big"] if i % 3 else -i * 1_000_003),
            "day": date(1970, 1, 1) + timedelta(days=(i * 37) % 40000),
            "at": None if null else T0 - timedelta(microseconds=i * 999_983),
            "local at": datetime(2262, 4, 11) - timedelta(seconds=i),
            "price.eur": Decimal(f"{(-1) ** i * i}.{i % 100:02d}"),
            "amount": Decimal("99999999999999.9999") if i % 5 == 0 else Decimal(-i),
            "huge": Decimal("12345678901234567890123456789012.345678") * (-1) ** i,
            "ratio": i / 3, "flag": i % 2 == 0, "name": f"n{i}", "blob": bytes([i % 256]),
        })
    return rows


INTEGER_LIKE = {"tiny", "small", "i32", "big", "day", "at", "local at", "price.eur", "amount",
                "_sluice_ingested_at"}


@pytest.mark.parametrize("mode", ["append", "replaceWindow", "merge"])
def test_integer_like_columns_are_delta_encoded_and_read_back_exactly(
        tmp_path: Path, mode: WriteMode) -> None:
    uri = str(tmp_path / "t")
    rows = _wide_rows(3000)
    # merge writes through its own path once the table exists: write twice.
    for run in ("r1", "r2"):
        plan = WritePlan(uri, run, mode, merge_keys=("i32", "name") if mode == "merge" else ())
        write_run(plan, full_schema(WIDE), run_batches(WIDE, rows, run))
    for metadata in _files(uri):
        encodings = _encodings(metadata)
        delta = {name for name, used in encodings.items() if "DELTA_BINARY_PACKED" in used}
        assert delta == INTEGER_LIKE
        # Wider decimals are fixed-length byte arrays; text, floats and booleans stay PLAIN.
        assert all("PLAIN" in encodings[name] for name in encodings.keys() - INTEGER_LIKE)
    landed = DeltaTable(uri).to_pyarrow_table().select(WIDE.names)
    expected = pa.Table.from_pylist(rows * (2 if mode == "append" else 1), schema=WIDE)
    assert landed.sort_by([("name", "ascending")]).equals(
        expected.sort_by([("name", "ascending")]))


def test_a_lake_set_to_plain_integers_writes_no_delta_encoding(tmp_path: Path) -> None:
    lake = LakeLocation(root=str(tmp_path), integer_encoding="plain")
    table = LakeTable(str(tmp_path / "t"), lake)
    write_run(WritePlan(table, "r1", "append"), full_schema(WIDE),
              run_batches(WIDE, _wide_rows(500), "r1"))
    (metadata,) = _files(table.uri)
    assert not any("DELTA_BINARY_PACKED" in used for used in _encodings(metadata).values())
    assert DeltaTable(table.uri).to_pyarrow_table().num_rows == 500


def test_the_integer_encoding_is_an_operator_setting(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("SLUICE_DATA_DIR", str(tmp_path))
    assert Settings().lake.integer_encoding == "delta"
    monkeypatch.setenv("SLUICE_LAKE_INTEGER_ENCODING", "plain")
    assert Settings().lake.integer_encoding == "plain"
    monkeypatch.setenv("SLUICE_LAKE_INTEGER_ENCODING", "zigzag")
    with pytest.raises(ValueError, match="lake_integer_encoding"):
        Settings()


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
