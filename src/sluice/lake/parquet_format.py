"""How the Parquet files of a run are encoded, chosen on measurements (bench/README.md,
"Third round: the data path").

delta-rs writes snappy, dictionary-encodes every column and keeps page-level statistics unless
told otherwise. On the benchmark's 5M-row window that cost twice the CPU of what is below for
files twice as large: zstd at level 1 compresses better than snappy and, with no dictionary to
build, is cheaper; dictionaries pay for text columns (repeated values), while for numbers and
timestamps the writer builds one only to throw it away once it outgrows its page. Statistics
stay at the row-group level, where Parquet readers prune with them; Delta's own per-file
statistics (in the log, for data skipping) are not affected. Row groups hold at most
`ROW_GROUP_ROWS` rows (DuckDB writes 122,880): the writer holds a whole row group in memory
before it flushes, so this bounds a run's memory (measured: 360 -> 250 MiB peak on the 5M-row
window) for 1.4 % larger files.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
from deltalake import ColumnProperties, WriterProperties

COMPRESSION: Final = "ZSTD"
COMPRESSION_LEVEL = 1
ROW_GROUP_ROWS = 128 * 1024
_PLAIN = ColumnProperties(dictionary_enabled=False, statistics_enabled="CHUNK")
_DICTIONARY = ColumnProperties(dictionary_enabled=True, statistics_enabled="CHUNK")


def _dictionary_pays(data_type: pa.DataType) -> bool:
    return any(
        check(data_type)
        for check in (
            pa.types.is_string,
            pa.types.is_large_string,
            pa.types.is_binary,
            pa.types.is_large_binary,
        )
    )


def writer_properties(schema: pa.Schema) -> WriterProperties:
    """The Parquet settings for files of `schema`: zstd(1), dictionaries for text only, row
    groups of at most ROW_GROUP_ROWS rows."""
    return WriterProperties(
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        max_row_group_size=ROW_GROUP_ROWS,
        default_column_properties=_PLAIN,
        column_properties={
            field.name: _DICTIONARY for field in schema if _dictionary_pays(field.type)
        },
    )
