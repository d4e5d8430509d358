"""dlt, table window: `sql_table` with the pyarrow backend and the same window, to a
filesystem Delta table. Runs in bench/.venv-dlt (dlt and its dependencies only).

Usage: dlt_table.py ROWS OUT_DIR RESULT_JSON
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
from dlt.sources.sql_database import sql_table
from dlt_delta import load_to_delta

from common import PG_URI, self_rss, table_name, window_epochs


def main() -> None:
    rows, out, result = int(sys.argv[1]), Path(sys.argv[2]).resolve(), Path(sys.argv[3])
    lower, upper = window_epochs(rows)
    baseline = self_rss()
    started = time.perf_counter()
    source = sql_table(
        credentials=PG_URI.replace("postgresql://", "postgresql+psycopg2://"),
        table=table_name(rows),
        backend="pyarrow",
        incremental=dlt.sources.incremental(
            "event_at",
            initial_value=datetime.fromtimestamp(lower, UTC),
            end_value=datetime.fromtimestamp(upper, UTC),
            range_start="closed",
            range_end="open",
        ),
    )
    load_to_delta(source, out, result, pipeline_name=f"bench_table_{rows}",
                  table=table_name(rows), started=started, baseline_rss=baseline)


if __name__ == "__main__":
    main()
