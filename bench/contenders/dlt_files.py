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

from dlt.sources.filesystem import filesystem, read_csv
from dlt_delta import load_to_delta

from common import self_rss


def main() -> None:
    folder, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    result = Path(sys.argv[3])
    baseline = self_rss()
    started = time.perf_counter()
    files = filesystem(bucket_url=folder.as_uri(), file_glob="*.csv")
    source = (files | read_csv()).with_name("events")
    load_to_delta(source, out, result, pipeline_name="bench_files", table="events",
                  started=started, baseline_rss=baseline)


if __name__ == "__main__":
    main()
