"""Reading several parts of a window at once, as one stream of batches for the run's one write.

Worker threads each read a part (a table read of a sub-range, a file) and hand their batches
over through a bounded queue, so memory stays a few batches per thread however large the
window is. The drivers (ADBC, connectorx, pyarrow's parsers) release the GIL while they
work. The first failure of any part is raised to the consumer as it was raised in its
thread (same coded error as a serial read); the other parts stop at their next batch.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa

from sluice.connectors.reading import ReadProgress, SourceRead

Part = Callable[[], Iterator[pa.RecordBatch]]

# How long a thread waits on a full queue before it checks whether it should stop.
_PUT_POLL_SECONDS = 0.1
# Batches waiting in the queue per thread (another one is in each thread's hands).
_QUEUED_PER_THREAD = 1


@dataclass(frozen=True)
class _Failure:
    error: BaseException


_PART_DONE = object()


class MergedBatches:
    """The batches of `parts`, read by `threads` threads at once, in arrival order."""

    def __init__(self, parts: Sequence[Part], threads: int, name: str = "sluice-read") -> None:
        self._parts = list(parts)
        self._thread_count = max(1, min(threads, len(self._parts)))
        self._name = name
        # Set on a part's failure: the other threads stop reading.
        self._stop = threading.Event()
        # Set when the consumer has gone: nothing more is handed over.
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_part = 0
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        handoff: queue.Queue[object] = queue.Queue(self._thread_count * _QUEUED_PER_THREAD)
        self._threads = [
            threading.Thread(
                target=self._work, args=(handoff,), name=f"{self._name}-{i}", daemon=True
            )
            for i in range(self._thread_count)
        ]
        for thread in self._threads:
            thread.start()
        running = len(self._threads)
        try:
            while running:
                item = handoff.get()
                if item is _PART_DONE:
                    running -= 1
                elif isinstance(item, _Failure):
                    raise item.error
                else:
                    yield item
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop every thread (each finishes the batch it is reading) and wait for them."""
        self._closed.set()
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _claim_part(self) -> Part | None:
        with self._lock:
            if self._stop.is_set() or self._next_part >= len(self._parts):
                return None
            part = self._parts[self._next_part]
            self._next_part += 1
            return part

    def _work(self, handoff: queue.Queue[object]) -> None:
        """Read parts until none is left (or the read stops); then say this thread is done."""
        try:
            while (part := self._claim_part()) is not None:
                stream = part()
                try:
                    for batch in stream:
                        if not self._put(handoff, batch, until=self._stop):
                            return
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()  # a generator's own cleanup runs here, in its thread
        except BaseException as error:
            self._stop.set()  # the other threads stop at their next batch
            self._put(handoff, _Failure(error), until=self._closed)
            return
        self._put(handoff, _PART_DONE, until=self._closed)

    @staticmethod
    def _put(handoff: queue.Queue[object], item: object, *, until: threading.Event) -> bool:
        """Hand `item` over, waiting for room; False when `until` is set first."""
        while not until.is_set():
            try:
                handoff.put(item, timeout=_PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False


class ParallelRead:
    """Several open reads of one schema read at once: one `SourceRead` to the engine, whose
    progress sums its parts' (each counted its own part, in its own snapshot)."""

    def __init__(self, reads: Sequence[SourceRead], name: str = "sluice-read") -> None:
        self._reads = list(reads)
        self._merged = MergedBatches([read.batches for read in self._reads], len(reads), name)

    @property
    def schema(self) -> pa.Schema:
        return self._reads[0].schema

    @property
    def progress(self) -> ReadProgress:
        return merged_progress([read.progress for read in self._reads])

    def batches(self) -> Generator[pa.RecordBatch, None, None]:
        try:
            yield from self._merged
        finally:
            self.close()

    def close(self) -> None:
        self._merged.stop()
        for read in self._reads:
            with contextlib.suppress(Exception):  # release every part even if one fails
                read.close()


def read_ahead(read: SourceRead) -> Generator[pa.RecordBatch, None, None]:
    """`read`'s batches, read by a thread of its own while the consumer works on the previous
    one: the source's decoding (ADBC, a CSV parser) overlaps the Delta writer's encoding, which
    pulls batches on the consumer's thread. Memory grows by one queued batch. A read that is
    already several threads (a parallel window) is returned as it is."""
    if isinstance(read, ParallelRead):
        return read.batches()
    return _ahead(MergedBatches([read.batches], 1, name="sluice-read-ahead"))


def _ahead(merged: MergedBatches) -> Generator[pa.RecordBatch, None, None]:
    try:
        yield from merged
    finally:
        merged.stop()  # also when the consumer closes early: the thread has ended on return


def merged_progress(parts: Sequence[ReadProgress]) -> ReadProgress:
    """The counters of a read made of `parts`: sums, and None where any part does not know."""
    counts = [p.source_count for p in parts]
    expected = [p.expected_records for p in parts]
    return ReadProgress(
        input_bytes=sum(p.input_bytes for p in parts),
        input_records=sum(p.input_records for p in parts),
        files=[f for p in parts for f in p.files],
        bad_rows=[r for p in parts for r in p.bad_rows],
        source_count=None if None in counts else sum(c for c in counts if c is not None),
        files_read=sum(p.files_read for p in parts),
        expected_records=None if None in expected else sum(e for e in expected if e is not None),
    )
