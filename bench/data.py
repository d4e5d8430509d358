"""Builds the benchmark's source data, idempotently: PostgreSQL tables and CSV folders.

A table or folder that is already complete (right row count, marker file) is kept, so a
second `python bench/run.py` starts measuring at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from common import (
    BASE,
    CSV_MTIME,
    DATA_DIR,
    OVERHEAD_ROWS,
    PG_ADMIN_DSN,
    PG_DB,
    PG_DSN,
    csv_dir,
    table_name,
)

_CREATE = """
CREATE TABLE {name} (
    id          bigint PRIMARY KEY,
    event_at    timestamptz NOT NULL,
    customer_id integer,
    category    text,
    amount      numeric(12, 2),
    is_paid     boolean,
    score       double precision,
    ship_date   date,
    note        text,
    quantity    smallint
)
"""
# Every row is different and every column non-trivial; ~110 bytes a row on disk.
_FILL = """
INSERT INTO {name}
SELECT i,
       timestamptz '{base}' + i * interval '1 second',
       (i * 7919) % 100000,
       'category_' || (i % 23),
       ((i * 37) % 10000000) / 100.0,
       i % 3 = 0,
       (i % 100003) / 7.0,
       date '2024-01-01' + (i % 730)::int,
       md5(i::text),
       (i % 100)::smallint
FROM generate_series({start}::bigint, {stop}::bigint - 1) AS i
"""


def ensure_database() -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_DB}"')  # type: ignore[arg-type]


def ensure_table(rows: int, log: bool = True) -> str:
    """Table `orders_<rows>` with exactly `rows` rows, an index on the delta column, vacuumed
    (so no read pays for setting hint bits)."""
    name = table_name(rows)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        found = conn.execute(
            "SELECT c.reltuples::bigint FROM pg_class c WHERE c.relname = %s", (name,)
        ).fetchone()
        if found is not None:
            (count,) = conn.execute(f"SELECT count(*) FROM {name}").fetchone()  # type: ignore[misc]
            if count == rows:
                return name
            conn.execute(f"DROP TABLE {name}")  # our own, incomplete table
        started = time.monotonic()
        if log:
            print(f"  building table {name} ({rows:,} rows)...", flush=True)
        conn.execute("SET synchronous_commit = off")
        conn.execute(_CREATE.format(name=name))  # type: ignore[arg-type]
        step = 1_000_000
        for start in range(0, rows, step):
            stop = min(start + step, rows)
            conn.execute(
                _FILL.format(name=name, base=BASE.isoformat(), start=start, stop=stop)  # type: ignore[arg-type]
            )
        conn.execute(f"CREATE INDEX {name}_event_at ON {name} (event_at)")  # type: ignore[arg-type]
        conn.execute(f"VACUUM (ANALYZE, FREEZE) {name}")  # type: ignore[arg-type]
        if log:
            print(f"  built {name} in {time.monotonic() - started:.0f} s", flush=True)
    return name


def ensure_overhead_table() -> str:
    """The run-overhead table: OVERHEAD_ROWS rows per run window, 20+ windows of them."""
    return ensure_table(OVERHEAD_ROWS * 25, log=False)


def _csv_chunk(start: int, rows: int) -> pa.Table:
    ids = pa.array(range(start, start + rows), pa.int64())
    event_at = pc.add(
        pa.scalar(BASE).cast(pa.timestamp("s", tz="UTC")),
        pc.cast(ids, pa.duration("s")),
    )
    categories = pa.array([f"category_{i}" for i in range(23)])
    return pa.table(
        {
            "id": ids,
            "event_at": event_at,
            "customer_id": pc.cast(pc.bit_wise_and(pc.multiply(ids, 7919), 0xFFFF), pa.int32()),
            "category": pc.take(categories, pc.cast(pc.bit_wise_and(ids, 15), pa.int32())),
            "amount": pc.cast(
                pc.divide(pc.cast(pc.bit_wise_and(pc.multiply(ids, 37), 0xFFFFF), pa.float64()),
                          100.0),
                pa.decimal128(12, 2),
                safe=False,
            ),
            "is_paid": pc.equal(pc.bit_wise_and(ids, 3), 0),
            "score": pc.divide(pc.cast(pc.bit_wise_and(ids, 0xFFFF), pa.float64()), 7.0),
            "ship_date": pc.cast(
                pc.cast(pc.add(pc.bit_wise_and(ids, 511), 19723), pa.int32()), pa.date32()
            ),
            "note": pc.binary_join_element_wise("note-", pc.cast(ids, pa.string()), "-x", ""),
            "quantity": pc.cast(pc.bit_wise_and(ids, 127), pa.int16()),
        }
    )


def ensure_csv(files: int, rows: int) -> Path:
    """`files` CSV files with `rows` rows in all, every file's mtime inside the file window."""
    folder = csv_dir(files, rows)
    marker = folder / ".complete"
    if marker.exists():
        return folder
    print(f"  writing {files} CSV files ({rows:,} rows) to {folder}...", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = rows // files
    for index in range(files):
        start = index * per_file
        count = per_file if index < files - 1 else rows - start
        path = folder / f"part-{index:04d}.csv"
        pa_csv.write_csv(_csv_chunk(start, count), path)
        os.utime(path, (CSV_MTIME, CSV_MTIME))
    marker.write_text(f"{files} {rows}\n")
    return folder


def build(scale: dict[str, object], scenarios: Iterable[str]) -> None:
    """The data the chosen scenarios read (the control plane only needs the small table)."""
    wanted = set(scenarios)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    ensure_database()
    if wanted & {"table", "memory"}:
        ensure_table(int(scale["table_rows"]))  # type: ignore[arg-type]
    if "memory" in wanted:
        for rows in scale["memory_rows"]:  # type: ignore[attr-defined]
            ensure_table(int(rows))
    ensure_overhead_table()
    if "files" in wanted:
        ensure_csv(int(scale["csv_files"]), int(scale["csv_rows"]))  # type: ignore[arg-type]
