"""How the Parquet files of a run are encoded, chosen on measurements (bench/README.md,
"Third round: the data path", "Fourth round" and "Fifth round").

delta-rs writes snappy, dictionary-encodes every column, writes every value PLAIN and keeps
page-level statistics unless told otherwise. Here: zstd at level 1, no dictionaries,
integer-like columns delta-encoded, row-group statistics.

- zstd compresses repeated values by itself, so a dictionary only adds the cost of building
  it (hashing every value until it outgrows its page and is thrown away): on the benchmark's
  5M-row table, zstd without dictionaries took 1.80 s of CPU for 125 MiB where zstd with
  dictionaries for text took 2.25 s for 127 MiB and delta-rs's defaults about 2 s for 259 MiB.
- Integers, timestamps, dates and decimals of up to 18 digits (stored as Parquet INT32/INT64)
  are written DELTA_BINARY_PACKED: the differences between neighbours, bit-packed, which
  leaves zstd a fraction of the bytes (ids, event times, a run's constant system columns shrink
  to almost nothing). The 5M-row table's write took 1.22 s of CPU for 90 MiB against 1.55 s
  for 125 MiB; the CSV window's 0.87 s for 18 MiB against 1.25 s for 46 MiB. Every current
  reader reads it (Spark's vectorized reader since 3.3, Trino, DuckDB, Polars, pyarrow,
  delta-rs); for older ones, `SLUICE_LAKE_INTEGER_ENCODING=plain` writes them PLAIN.
  Text stays PLAIN: DELTA_BYTE_ARRAY cost more CPU than it saved on every text column tried.
- Statistics stay at the row-group level, where Parquet readers prune with them; Delta's own
  per-file statistics (in the log, for data skipping) are not affected.
- Row groups hold at most `ROW_GROUP_ROWS` rows (DuckDB writes 122,880): the writer holds a
  whole row group in memory before it flushes, so this bounds a run's memory (measured: 360
  -> 250 MiB peak on the 5M-row window) for 1.4 % larger files.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
from deltalake import ColumnProperties, WriterProperties

from sluice.lake.location import IntegerEncoding

COMPRESSION: Final = "ZSTD"
COMPRESSION_LEVEL = 1
ROW_GROUP_ROWS = 128 * 1024
# Decimals of up to this many digits are stored as Parquet INT32/INT64, wider ones as
# fixed-length byte arrays, which DELTA_BINARY_PACKED cannot encode.
_INTEGER_STORED_DECIMAL_DIGITS = 18
_COLUMNS = ColumnProperties(dictionary_enabled=False, statistics_enabled="CHUNK")
_DELTA_COLUMNS = ColumnProperties(
    dictionary_enabled=False, statistics_enabled="CHUNK", encoding="DELTA_BINARY_PACKED"
)


def _stored_as_integers(data_type: pa.DataType) -> bool:
    if pa.types.is_decimal(data_type):
        return bool(data_type.precision <= _INTEGER_STORED_DECIMAL_DIGITS)
    return bool(
        pa.types.is_integer(data_type)
        or pa.types.is_timestamp(data_type)
        or pa.types.is_date(data_type)
        or pa.types.is_time(data_type)
    )


def writer_properties(
    schema: pa.Schema, integer_encoding: IntegerEncoding = "delta"
) -> WriterProperties:
    """The Parquet settings of a run's files of `schema`: zstd(1), no dictionaries, top-level
    integer-like columns DELTA_BINARY_PACKED (unless `integer_encoding` is "plain"),
    row-group statistics, row groups of at most ROW_GROUP_ROWS rows."""
    delta_encoded = (
        {f.name: _DELTA_COLUMNS for f in schema if _stored_as_integers(f.type)}
        if integer_encoding == "delta"
        else {}
    )
    return WriterProperties(
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        max_row_group_size=ROW_GROUP_ROWS,
        default_column_properties=_COLUMNS,
        column_properties=delta_encoded or None,
    )
