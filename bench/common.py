"""Shared settings of the benchmark: scales, paths, the source database, table shape, windows.

Everything here is plain data so that every contender process (including the dlt one, which
runs in its own venv without Sluice installed) can import it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
RESULTS_DIR = DATA_DIR / "results"

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
PG_DB = "sluice_bench"  # the benchmark's own database: created if missing, never dropped
PG_ADMIN_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
PG_DSN = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={PG_DB}"
PG_URI = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}"

# Row i of every table has event_at = BASE + i seconds, so the window [BASE, BASE + rows)
# covers the whole table (and the first n rows are the window [BASE, BASE + n)).
BASE = datetime(2024, 1, 1, tzinfo=UTC)
BASE_EPOCH = int(BASE.timestamp())

SCALES: dict[str, dict[str, int]] = {
    # The numbers.
    "full": {
        "table_rows": 5_000_000,
        "memory_rows": (1_000_000, 5_000_000, 10_000_000),  # type: ignore[dict-item]
        "csv_files": 200,
        "csv_rows": 5_000_000,
        "stored_runs": 100_000,
        "scheduler_flows": 10_000,
        "repeat": 5,
    },
    # For building and debugging the benchmark itself.
    "small": {
        "table_rows": 200_000,
        "memory_rows": (100_000, 200_000, 400_000),  # type: ignore[dict-item]
        "csv_files": 20,
        "csv_rows": 200_000,
        "stored_runs": 5_000,
        "scheduler_flows": 1_000,
        "repeat": 1,
    },
}

OVERHEAD_ROWS = 100
OVERHEAD_RUNS = 20

# The table's columns: bigint, timestamptz (the delta column), int, text, numeric, bool,
# float, date, text, smallint.
TABLE_COLUMNS = (
    "id", "event_at", "customer_id", "category", "amount", "is_paid", "score", "ship_date",
    "note", "quantity",
)


def table_name(rows: int) -> str:
    return f"orders_{rows}"


def window_sql(rows: int) -> str:
    """The WHERE clause of the window covering a table of `rows` rows (literal bounds)."""
    lower = BASE.isoformat()
    upper = datetime.fromtimestamp(BASE_EPOCH + rows, UTC).isoformat()
    return f"event_at IS NOT NULL AND event_at >= '{lower}' AND event_at < '{upper}'"


def window_epochs(rows: int) -> tuple[int, int]:
    return BASE_EPOCH, BASE_EPOCH + rows


def csv_dir(files: int, rows: int) -> Path:
    return DATA_DIR / f"csv_{files}x{rows}"


# CSV files get this modification time: inside the file run's window.
CSV_MTIME = BASE_EPOCH + 3600
CSV_WINDOW = (BASE_EPOCH, BASE_EPOCH + 86_400)


def write_result(path: Path, **values: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2, default=str))


def read_result(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text()))


def self_rss() -> int:
    """This process's resident set now (bytes): taken after imports, before data moves."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def py_spy() -> str:
    """py-spy beside this interpreter, else the one on PATH (say, in a venv of its own)."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy") or str(beside)
