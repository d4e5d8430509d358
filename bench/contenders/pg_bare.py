"""Bare pipeline, table window: ADBC record batches straight into `deltalake.write_deltalake`.

Usage: pg_bare.py ROWS OUT_TABLE RESULT_JSON [--typed]

The query is the window with literal bounds (a query without parameters streams through
binary COPY in bounded batches). ADBC hands `numeric` over as an opaque extension type whose
storage is the decimal text: the plain bare pipeline unwraps it (zero-copy), so `amount`
lands as a string; `--typed` casts it to decimal128(12, 2) as Sluice does (informative).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import adbc_driver_postgresql.dbapi as adbc_pg
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from common import PG_URI, self_rss, table_name, window_sql, write_result


def main() -> None:
    rows, out, result = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    typed = "--typed" in sys.argv
    baseline = self_rss()
    started = time.perf_counter()
    conn = adbc_pg.connect(PG_URI)
    cursor = conn.cursor()
    cursor.adbc_statement.set_options(
        **{"adbc.postgresql.batch_size_hint_bytes": str(16 * 1024 * 1024)}
    )
    cursor.execute(f"SELECT * FROM {table_name(rows)} WHERE {window_sql(rows)}")
    reader = cursor.fetch_record_batch()
    fields = []
    for field in reader.schema:
        kind = field.type.storage_type if isinstance(field.type, pa.ExtensionType) else field.type
        if typed and field.name == "amount":
            kind = pa.decimal128(12, 2)
        fields.append(pa.field(field.name, kind))
    schema = pa.schema(fields)
    count = 0

    def batches():
        nonlocal count
        for batch in reader:
            arrays = []
            for array, field in zip(batch.columns, schema, strict=True):
                if isinstance(array, pa.ExtensionArray):
                    array = array.storage
                if array.type != field.type:
                    array = pc.cast(array, field.type)
                arrays.append(array)
            count += batch.num_rows
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    write_deltalake(out, pa.RecordBatchReader.from_batches(schema, batches()), mode="append")
    cursor.close()
    conn.close()
    write_result(result, rows=count, seconds=time.perf_counter() - started,
                 baseline_rss=baseline)


if __name__ == "__main__":
    main()
