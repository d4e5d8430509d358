"""Bare pipeline, file window: a pyarrow CSV dataset streamed into `deltalake.write_deltalake`.

Usage: csv_bare.py CSV_FOLDER OUT_TABLE RESULT_JSON

Column types are pyarrow's inference (timestamps come back in seconds; Delta stores
microseconds, so that column is cast per batch, as any pipeline into Delta must).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import write_deltalake

from common import self_rss, write_result


def _delta_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind) and kind.unit != "us":
        return pa.timestamp("us", tz=kind.tz)
    return kind


def main() -> None:
    folder, out, result = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    baseline = self_rss()
    started = time.perf_counter()
    dataset = ds.dataset(sorted(str(p) for p in folder.glob("*.csv")), format="csv")
    schema = pa.schema([f.with_type(_delta_type(f.type)) for f in dataset.schema])
    count = 0

    def batches():
        nonlocal count
        for batch in dataset.to_batches():
            count += batch.num_rows
            yield batch.cast(schema) if batch.schema != schema else batch

    write_deltalake(out, pa.RecordBatchReader.from_batches(schema, batches()), mode="append")
    write_result(result, rows=count, seconds=time.perf_counter() - started,
                 baseline_rss=baseline)


if __name__ == "__main__":
    main()
