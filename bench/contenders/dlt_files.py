"""dlt, file window: the `filesystem` source with its CSV reader (`read_csv`), to a
filesystem Delta table. Runs in bench/.venv-dlt.

Usage: dlt_files.py CSV_FOLDER OUT_DIR RESULT_JSON
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
from dlt.sources.filesystem import filesystem, read_csv

from common import self_rss, write_result


def main() -> None:
    folder, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    result = Path(sys.argv[3])
    baseline = self_rss()
    started = time.perf_counter()
    files = filesystem(bucket_url=folder.as_uri(), file_glob="*.csv")
    source = (files | read_csv()).with_name("events")
    pipeline = dlt.pipeline(
        pipeline_name="bench_files",
        pipelines_dir=str(out / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=(out / "lake").as_uri()),
        dataset_name="bench",
    )
    info = pipeline.run(source, table_format="delta", write_disposition="append")
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    write_result(result, rows=int(counts.get("events", 0)), seconds=seconds,
                 baseline_rss=baseline,
                 detail=str(info).splitlines()[0])


if __name__ == "__main__":
    main()
