"""The parts of parallel reads, watched inside a `sluice worker` process (the crash-point
matrix's parallel cases, tests/e2e): which run a parallel read belongs to, how many batches and
rows each of its parts has handed over, and whether each read to its end.

Installed from outside `src/` by `support.crash_points` when `CRASH_MATRIX_PARTS_DIR` names a
folder, in every worker of a scenario (the crashing one and those that finish its runs):

- Windows of any size are cut: `split_windows.MIN_ROWS_PER_PART` is 1, as in the in-process
  tests (a real window is cut only from 500k rows), and a run with `parallelism` > 1 reads
  batches of `PART_BATCH_ROWS` rows: each part of the matrix's windows (10 rows) hands over
  more batches than the queues and read-ahead between it and the writer hold (about 6), so a
  run stopped after its first batch finds every part mid-stream, none at its end.
- A parallel read (a cut table window, `merged_reads.ParallelRead`; the files of a file
  window parsed at once) writes `read-*.json` to the folder once all its parts have stopped:
  `{"run", "read", "when": "end", "parts": [{"batches", "rows", "complete"}, ...]}`.
  `Watch.snapshot` writes the reads still going the same way, with `"when": "kill"` (crash
  point (a) calls it just before the process dies).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from sluice.connectors import merged_reads
from sluice.connectors.files import reader as files_reader
from sluice.connectors.tables import split_windows
from sluice.engine import runner

PARTS_ENV = "CRASH_MATRIX_PARTS_DIR"
PART_BATCH_ROWS = 1
# MergedBatches names of the reads that are several parts; "sluice-read-ahead" is one part.
PARALLEL_READS = ("sluice-read", "sluice-files")

# The run whose read the current thread opens (set around the runner's `_move_data`, and in
# the thread that starts a file read's parts).
_current = threading.local()


@dataclass
class PartState:
    batches: int = 0  # handed over so far
    rows: int = 0
    complete: bool = False  # read to its end
    stopped: bool = field(default=False, repr=False)


@dataclass
class WatchedRead:
    run: str
    read: str  # the MergedBatches name
    parts: list[PartState]
    written: bool = False


class Watch:
    """Every parallel read this process has started, written to `folder` as they stop."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.reads: list[WatchedRead] = []

    def register(self, run: str, read: str, parts: int) -> WatchedRead:
        watched = WatchedRead(run, read, [PartState() for _ in range(parts)])
        with self.lock:
            self.reads.append(watched)
        return watched

    def part_stopped(self, watched: WatchedRead) -> None:
        with self.lock:
            done = all(p.stopped for p in watched.parts) and not watched.written
            watched.written = watched.written or done
        if done:
            self._write(watched, "end")

    def reads_of(self, runs: Collection[str]) -> list[WatchedRead]:
        with self.lock:
            return [r for r in self.reads if r.run in runs]

    def await_every_part_streaming(self, runs: Collection[str], timeout: float) -> None:
        """Until each part of the reads of `runs` has handed over a batch (bounded: the test
        sees what the snapshot shows)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(p.batches for r in self.reads_of(runs) for p in r.parts):
                return
            time.sleep(0.01)

    def snapshot(self, runs: Collection[str]) -> None:
        for watched in self.reads_of(runs):
            if not watched.written:
                self._write(watched, "kill")

    def _write(self, watched: WatchedRead, when: str) -> None:
        record = {"run": watched.run, "read": watched.read, "when": when,
                  "parts": [{k: v for k, v in asdict(p).items() if k != "stopped"}
                            for p in watched.parts]}
        name = f"read-{uuid.uuid4()}.json"
        partial = self.folder / f".{name}"
        partial.write_text(json.dumps(record))
        partial.rename(self.folder / name)  # whole or absent, even if the process dies


def records(folder: Path) -> list[dict[str, Any]]:
    """What the workers wrote to `folder` (the test's side)."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("read-*.json"))]


def _watched_part(part: merged_reads.Part, state: PartState,
                  stopped: Callable[[], None]) -> merged_reads.Part:
    def read() -> Iterator[pa.RecordBatch]:
        stream = part()
        try:
            for batch in stream:
                state.batches += 1
                state.rows += batch.num_rows
                yield batch
            state.complete = True
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            state.stopped = True
            stopped()

    return read


def install(folder: Path) -> Watch:
    """Cut every parallel window of this process and watch its parts (see the module)."""
    folder.mkdir(parents=True, exist_ok=True)
    watch = Watch(folder)
    split_windows.MIN_ROWS_PER_PART = 1
    real_merged = merged_reads.MergedBatches
    real_request, real_move = runner.ReadRequest, runner._move_data
    real_files_init, real_files_batches = files_reader.FilesRead.__init__, \
        files_reader.FilesRead.batches

    class WatchedBatches(real_merged):  # type: ignore[valid-type,misc]
        def __init__(self, parts: Sequence[merged_reads.Part], threads: int,
                     name: str = "sluice-read") -> None:
            run = getattr(_current, "run", None)
            if run is not None and name in PARALLEL_READS:
                watched = watch.register(run, name, len(parts))
                parts = [_watched_part(p, s, lambda: watch.part_stopped(watched))
                         for p, s in zip(parts, watched.parts, strict=True)]
            super().__init__(parts, threads, name)

    def request(**fields: Any) -> Any:
        if fields.get("parallelism", 1) > 1:
            fields.setdefault("batch_rows", PART_BATCH_ROWS)
        return real_request(**fields)

    def move_data(ctx: Any, guard: Any, plan: runner.RunPlan, *rest: Any) -> Any:
        _current.run = plan.run_id
        try:
            return real_move(ctx, guard, plan, *rest)
        finally:
            _current.run = None

    def files_init(self: Any, *args: Any, **kwargs: Any) -> None:
        real_files_init(self, *args, **kwargs)
        self._watched_run = getattr(_current, "run", None)

    def files_batches(self: Any) -> Iterator[pa.RecordBatch]:
        # Its parts start in whichever thread pulls the read first (the read-ahead's).
        _current.run = self._watched_run
        yield from real_files_batches(self)

    merged_reads.MergedBatches = WatchedBatches  # type: ignore[misc]
    files_reader.MergedBatches = WatchedBatches  # type: ignore[misc]
    runner.ReadRequest = request  # type: ignore[assignment,misc]
    runner._move_data = move_data  # type: ignore[assignment]
    files_reader.FilesRead.__init__ = files_init  # type: ignore[method-assign]
    files_reader.FilesRead.batches = files_batches  # type: ignore[method-assign]
    return watch
