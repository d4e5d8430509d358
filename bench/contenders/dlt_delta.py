"""What both dlt contenders do once their source is built: run it into a filesystem Delta
table under OUT_DIR, time it, and write the result with the rows dlt normalized."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dlt

from common import write_result


def load_to_delta(source: Any, out: Path, result: Path, *, pipeline_name: str, table: str,
                  started: float, baseline_rss: int) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name,
        pipelines_dir=str(out / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=(out / "lake").as_uri()),
        dataset_name="bench",
    )
    info = pipeline.run(source, table_format="delta", write_disposition="append")
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    write_result(result, rows=int(counts.get(table, 0)), seconds=seconds,
                 baseline_rss=baseline_rss,
                 detail=str(info).splitlines()[0])
