"""How the Parquet files of a run are encoded, chosen on measurements (bench/README.md,
"Third round: the data path" and "Fourth round").

delta-rs writes snappy, dictionary-encodes every column and keeps page-level statistics unless
told otherwise. Here: zstd at level 1, no dictionaries, row-group statistics. zstd compresses
repeated values by itself, so a dictionary only adds the cost of building it (hashing every
value until it outgrows its page and is thrown away): on the benchmark's 5M-row table, zstd
without dictionaries took 1.80 s of CPU for 125 MiB where zstd with dictionaries for text took
2.25 s for 127 MiB and delta-rs's defaults about 2 s for 259 MiB; on its CSV files, every text
column, low-cardinality ones included, was cheaper and no larger without one. Statistics stay
at the row-group level, where Parquet readers prune with them; Delta's own per-file statistics
(in the log, for data skipping) are not affected. Row groups hold at most `ROW_GROUP_ROWS` rows
(DuckDB writes 122,880): the writer holds a whole row group in memory before it flushes, so
this bounds a run's memory (measured: 360 -> 250 MiB peak on the 5M-row window) for 1.4 %
larger files.
"""

from __future__ import annotations

from typing import Final

from deltalake import ColumnProperties, WriterProperties

COMPRESSION: Final = "ZSTD"
COMPRESSION_LEVEL = 1
ROW_GROUP_ROWS = 128 * 1024
_COLUMNS = ColumnProperties(dictionary_enabled=False, statistics_enabled="CHUNK")


def writer_properties() -> WriterProperties:
    """The Parquet settings of a run's files: zstd(1), no dictionaries, row-group statistics,
    row groups of at most ROW_GROUP_ROWS rows."""
    return WriterProperties(
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        max_row_group_size=ROW_GROUP_ROWS,
        default_column_properties=_COLUMNS,
    )
