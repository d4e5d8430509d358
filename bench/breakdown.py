"""Where Sluice's table-window time goes beyond the bare pipeline: the same stages timed one
by one in this process, Sluice's own code against the bare libraries.

Usage: python bench/breakdown.py [ROWS] [--files]

Stages (each read of the whole window, to nowhere unless it says Delta):
  A  ADBC, literal bounds (the bare pipeline's query)            read only
  B  ADBC, Sluice's query (literal bounds, numeric as text)      read only
  C  Sluice's PostgresRead.batches() (B + conform + bounded)     read only
  D  C + BatchMapper.map + add_system_columns (the runner's map) read only
  E  D into write_run, writeMode append                          Delta
  F  D into write_run, writeMode replaceWindow (Sluice's default) Delta
  G  F with the read (C + D) in a thread of its own               Delta
With --files, the same for the file window: pyarrow dataset vs Sluice's FilesRead.
"""

from __future__ import annotations

import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import adbc_driver_postgresql.dbapi as adbc_pg
import pyarrow as pa
import pyarrow.dataset as ds
from adbc_driver_manager import dbapi as adbc_dbapi

from common import (
    CSV_WINDOW,
    DATA_DIR,
    PG_DB,
    PG_HOST,
    PG_PORT,
    PG_URI,
    PG_USER,
    SCALES,
    csv_dir,
    table_name,
    window_epochs,
    window_sql,
)
from sluice.connectors.contract import ConnectorContext
from sluice.connectors.files.local import CONNECTOR as FILE_CONNECTOR
from sluice.connectors.merged_reads import MergedBatches
from sluice.connectors.postgresql import reader as pg_reader
from sluice.connectors.reading import SOURCE_FILE_COLUMN, ReadRequest
from sluice.domain.windows import Window
from sluice.engine.mapping import BatchMapper, by_name
from sluice.engine.target_schema import target_schema
from sluice.lake.predicates import window_predicate
from sluice.lake.schema import add_system_columns, with_system_columns
from sluice.lake.writer import WritePlan, write_run

OUT = DATA_DIR / "work" / "breakdown"
# The metadata database is the bench's own (`sluice_bench_meta`), never the source: the
# reader refuses to read Sluice's own metadata database.
CONTEXT = ConnectorContext(allowed_file_roots=(DATA_DIR,), lake_dir=OUT,
                           metadata_database_url=f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}"
                                                 "/sluice_bench_meta",
                           allowed_hosts=(PG_HOST,))
AUTH = {"host": PG_HOST, "port": PG_PORT, "database": PG_DB, "username": PG_USER,
        "password": "unused"}


def timed(name: str, action: Callable[[], int]) -> float:
    """Run one stage; print its wall time and this process's CPU time (steadier on a shared
    machine; PostgreSQL's own CPU is not in it)."""
    started, cpu = time.perf_counter(), time.process_time()
    rows = action()
    seconds = time.perf_counter() - started
    print(f"  {name:<58} {seconds:6.2f} s  cpu {time.process_time() - cpu:6.2f} s"
          f"  {rows:>10,} rows", flush=True)
    return seconds


def drain(batches: Iterator[pa.RecordBatch]) -> int:
    return sum(b.num_rows for b in batches)


def adbc_read(query: str) -> int:
    conn = adbc_pg.connect(PG_URI, autocommit=False)
    cursor = conn.cursor()
    cursor.adbc_statement.set_options(
        **{"adbc.postgresql.batch_size_hint_bytes": str(16 * 1024 * 1024)})
    cursor.execute(query)
    rows = drain(iter(cursor.fetch_record_batch()))
    cursor.close()
    conn.rollback()
    conn.close()
    return rows


def sluice_query(source: dict[str, Any], request: ReadRequest) -> str:
    """The SELECT Sluice's reader hands the driver for this window (captured from a read)."""
    seen: list[str] = []
    real_execute = adbc_dbapi.Cursor.execute

    def recording(cursor: Any, operation: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(operation, str) and operation.startswith("SELECT ") and " AS " in operation:
            seen.append(operation)
        return real_execute(cursor, operation, *args, **kwargs)

    adbc_dbapi.Cursor.execute = recording  # type: ignore[method-assign]
    try:
        pg_reader.open_source(CONTEXT, AUTH, source, request).close()
    finally:
        adbc_dbapi.Cursor.execute = real_execute  # type: ignore[method-assign]
    return seen[-1]


def mapped(read: Any, run_id: str, out: Path, files: bool = False) -> tuple[
        Iterator[pa.RecordBatch], pa.Schema]:
    """The runner's map of a read: BatchMapper.map, the system columns, the final cast."""
    target = target_schema(str(out), None, read.schema)
    if files:
        target = pa.schema([f for f in target if f.name != SOURCE_FILE_COLUMN])
    schema = with_system_columns(target, file_source=files)
    # As the runner maps a file source: by name, untyped (CSV), the path column left out.
    mapper = BatchMapper(target, location_column=SOURCE_FILE_COLUMN, columns=by_name(
        read.schema, typed=False, skip=(SOURCE_FILE_COLUMN,))) if files else BatchMapper(target)
    ingested = datetime.now(UTC)

    def stream() -> Iterator[pa.RecordBatch]:
        seen = 0
        for batch in read.batches():
            result = mapper.map(batch, seen)
            seen += batch.num_rows
            source_file = batch.column(SOURCE_FILE_COLUMN)[0].as_py() if files else None
            tagged = add_system_columns(result.batch, run_id, ingested, source_file)
            yield tagged if tagged.schema.equals(schema) else \
                tagged.select(schema.names).cast(schema)
    return stream(), schema


def write(name: str, read: Any, mode: str, predicate: str | None, *, prefetch: bool,
          files: bool = False) -> int:
    """`mapped(read)` into a fresh Delta table under OUT/name through Sluice's writer."""
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    run_id = str(uuid.uuid4())
    batches, schema = mapped(read, run_id, out, files=files)
    if prefetch:
        source_batches = batches
        batches = iter(MergedBatches([lambda: source_batches], 1))
    plan = WritePlan(table=str(out), run_id=run_id, mode=mode,  # type: ignore[arg-type]
                     replace_predicate=predicate)
    try:
        return write_run(plan, schema, batches).rows_written
    finally:
        read.close()


def table(rows: int) -> None:
    name = table_name(rows)
    start, end = window_epochs(rows)
    window = Window(start, end)
    print(f"Table window, {rows:,} rows")
    timed("A ADBC, literal bounds", lambda: adbc_read(
        f"SELECT * FROM {name} WHERE {window_sql(rows)}"))
    request = ReadRequest(window=window, delta_column="event_at")
    source = {"params": {"tableName": name}}
    query = sluice_query(source, request)
    timed("B ADBC, Sluice's query (literal bounds, numeric as text)", lambda: adbc_read(query))

    def sluice_read() -> int:
        read = pg_reader.open_source(CONTEXT, AUTH, source, request)
        return drain(read.batches())

    timed("C Sluice PostgresRead.batches()", sluice_read)

    def map_only() -> int:
        read = pg_reader.open_source(CONTEXT, AUTH, source, request)
        batches, _schema = mapped(read, str(uuid.uuid4()), OUT / "none")
        return drain(batches)

    timed("D C + BatchMapper.map + add_system_columns", map_only)

    predicate = window_predicate("event_at", pa.timestamp("us", tz="UTC"), window, "UTC")

    def table_write(mode: str, prefetch: bool = False) -> int:
        read = pg_reader.open_source(CONTEXT, AUTH, source, request)
        return write(f"table-{mode}", read, mode,
                     predicate if mode == "replaceWindow" else None, prefetch=prefetch)

    timed("E D into write_run, append", lambda: table_write("append"))
    timed("F D into write_run, replaceWindow (Sluice's default)",
          lambda: table_write("replaceWindow"))
    timed("G F, the read in a thread of its own (prefetch)",
          lambda: table_write("replaceWindow", prefetch=True))


def files(count: int, rows: int) -> None:
    folder = csv_dir(count, rows)
    print(f"File window, {count} files, {rows:,} rows")
    paths = sorted(str(p) for p in folder.glob("*.csv"))
    timed("A pyarrow CSV dataset, to_batches (threads)", lambda: drain(
        ds.dataset(paths, format="csv").to_batches()))
    timed("A' pyarrow CSV dataset, to_batches(use_threads=False)", lambda: drain(
        ds.dataset(paths, format="csv").to_batches(use_threads=False)))

    def open_read(parallelism: int = 1) -> Any:
        return FILE_CONNECTOR.read(
            CONTEXT, {"rootPath": str(folder)},
            {"data": {"format": "delimited", "columnDelimiter": ","}, "params": {"path": "*.csv"}},
            ReadRequest(window=Window(*CSV_WINDOW), parallelism=parallelism))

    timed("C Sluice FilesRead.batches()", lambda: drain(open_read().batches()))
    timed("C2 C, parallelism 2", lambda: drain(open_read(2).batches()))
    timed("D C + BatchMapper.map + add_system_columns",
          lambda: drain(mapped(open_read(), str(uuid.uuid4()), OUT / "none", files=True)[0]))
    timed("E D into write_run, append", lambda: write(
        "files-append", open_read(), "append", None, prefetch=False, files=True))
    timed("G E, the read in a thread of its own (prefetch)", lambda: write(
        "files-append", open_read(), "append", None, prefetch=True, files=True))
    timed("G2 G, parallelism 2", lambda: write(
        "files-append", open_read(2), "append", None, prefetch=True, files=True))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    scale = SCALES["full"]
    if "--files" in sys.argv:
        files(int(scale["csv_files"]), int(scale["csv_rows"]))
    else:
        table(int(args[0]) if args else int(scale["table_rows"]))


if __name__ == "__main__":
    main()
