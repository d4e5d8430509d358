"""Crash points for a whole `sluice worker` process (the crash-point matrix, tests/e2e):
the real runner and Delta writer, patched from outside `src/` to stop the process at one
point of a run. Loaded by `support.crash_point_worker`, configured by environment variables:

- `CRASH_MATRIX_POINT`: where (one of `POINTS`; empty: nowhere, a healthy worker).
- `CRASH_MATRIX_FROM`: only runs whose window starts at or after this epoch second are
  armed; earlier windows (the matrix's seed runs) run normally in the same process.
- `CRASH_MATRIX_RUNS`: how many armed runs must reach the point before the process dies
  (default 1). The first ones wait for the last, so every run in the process is stopped at
  the point itself, not wherever it happened to be when another run's kill landed.
- `CRASH_MATRIX_DIR`: for `e_metadata_restart`, where a paused run writes
  `reached-<run id>` and waits for `release`.
- `CRASH_MATRIX_PARTS_DIR` (with or without a point): windows of any size are cut into parts
  and the parallel reads' parts are watched (`support.parallel_parts`); at `a_mid_read` the
  process dies only once every part of every armed parallel read has handed over a batch,
  and their state at that moment is written there first.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sluice.engine import runner
from sluice.lake import writer
from sluice.lake.location import as_lake_table
from support import parallel_parts
from support.faults import InjectedFault

POINT_ENV, FROM_ENV, RUNS_ENV, DIR_ENV = (
    "CRASH_MATRIX_POINT", "CRASH_MATRIX_FROM", "CRASH_MATRIX_RUNS", "CRASH_MATRIX_DIR")
POINTS = ("a_mid_read", "b_before_commit", "c_after_commit", "d_retrigger",
          "e_metadata_restart")
# Bounded: a run that never reaches the point must not hang the test; the process dies
# anyway and the test sees which runs were not where they should have been.
GATHER_SECONDS = 60.0


class _Gathering:
    """Armed runs arriving at the point; the last arrival (or the timeout) kills them all,
    after `before_kill`."""

    def __init__(self, runs: int, before_kill: Callable[[], None] = lambda: None) -> None:
        self.runs = runs
        self.before_kill = before_kill
        self.arrived = 0
        self.lock = threading.Lock()
        self.all_here = threading.Event()

    def arrive_then_die(self) -> None:
        with self.lock:
            self.arrived += 1
            last = self.arrived >= self.runs
        if last:
            self.all_here.set()
            self.before_kill()
        elif self.all_here.wait(GATHER_SECONDS):
            time.sleep(GATHER_SECONDS)  # the last arrival kills the process
        os.kill(os.getpid(), signal.SIGKILL)


class _Pause:
    """Armed runs stop at the point until the test writes `release` (bounded)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def wait_for_release(self, run_id: str) -> None:
        (self.folder / f"reached-{run_id}").touch()
        deadline = time.monotonic() + GATHER_SECONDS
        while not (self.folder / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def _stage_files_then(table: Any, plan: writer.WritePlan, source: pa.RecordBatchReader,
                      die: Callable[[], None]) -> None:
    """What a writer killed between writing its data files and committing leaves behind.

    delta-rs writes the Parquet files and commits in one Rust call with no seam between, so
    the state is made here: the run's rows in a data file named as delta-rs names them, in
    the table's folder, that no log entry names. Then the process dies before any commit.
    """
    location = as_lake_table(plan.table)
    folder = Path(location.lake.fs_path(location.uri))
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f"part-00001-{uuid.uuid4()}-c000.snappy.parquet"
    pq.write_table(source.read_all(), staged, compression="snappy")
    die()


def install(point: str, *, armed_from: int, runs: int, folder: Path | None,
            parts: parallel_parts.Watch | None = None) -> None:
    """Patch this process's runner and writer to stop armed runs at `point`."""
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}; one of {', '.join(POINTS)}")
    armed: set[str] = set()

    def before_kill() -> None:
        if parts is not None and point == "a_mid_read":
            parts.await_every_part_streaming(armed, GATHER_SECONDS)
            parts.snapshot(armed)

    gathering = _Gathering(runs, before_kill)
    real_move, real_write = runner._move_data, writer._write

    def move_data(ctx: Any, guard: Any, plan: runner.RunPlan, *rest: Any) -> Any:
        if plan.window is not None and plan.window.start >= armed_from:
            armed.add(plan.run_id)
        return real_move(ctx, guard, plan, *rest)

    def write(table: Any, plan: writer.WritePlan, source: pa.RecordBatchReader) -> None:
        if plan.run_id not in armed:
            return real_write(table, plan, source)
        if point in ("a_mid_read", "e_metadata_restart"):
            # Here, in the run's own thread, not inside the stream: delta-rs pulls the stream
            # on its runtime's few threads, and runs parked there would starve the others.
            first = source.read_next_batch()  # the source's read is open and unfinished
            if point == "a_mid_read":
                gathering.arrive_then_die()
            assert folder is not None, f"{DIR_ENV} is required for {point}"
            _Pause(folder).wait_for_release(plan.run_id)
            again = itertools.chain([first], source)
            return real_write(table, plan, pa.RecordBatchReader.from_batches(source.schema, again))
        if point == "b_before_commit":
            return _stage_files_then(table, plan, source, gathering.arrive_then_die)
        if point == "d_retrigger" and not plan.earlier_runs:
            raise InjectedFault("injected failure of the run a re-trigger will repeat")
        real_write(table, plan, source)
        gathering.arrive_then_die()  # c, and d's re-trigger: committed, not recorded

    runner._move_data = move_data  # type: ignore[assignment]
    writer._write = write  # type: ignore[assignment]


def install_from_environment() -> None:
    parts_folder = os.environ.get(parallel_parts.PARTS_ENV)
    parts = parallel_parts.install(Path(parts_folder)) if parts_folder else None
    point = os.environ.get(POINT_ENV, "")
    if not point:
        return
    folder = os.environ.get(DIR_ENV)
    install(point, armed_from=int(os.environ.get(FROM_ENV, "0")),
            runs=int(os.environ.get(RUNS_ENV, "1")), folder=Path(folder) if folder else None,
            parts=parts)
