"""A run's source is read one batch ahead, in a thread of its own, so that decoding the
source overlaps the Delta writer's encoding; the batches, their order and the read's own
errors are what a read on the consumer's thread gives."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pyarrow as pa
import pytest

from sluice.connectors.errors import TerminalReadError
from sluice.connectors.merged_reads import read_ahead
from sluice.connectors.reading import ReadProgress

SCHEMA = pa.schema([("id", pa.int64())])


class ThreadRecordingRead:
    """A read of `count` one-row batches that notes which thread reads each one."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.threads: set[str] = set()
        self.read = 0
        self.finished = threading.Event()  # the batches generator's own clean-up ran

    @property
    def schema(self) -> pa.Schema:
        return SCHEMA

    @property
    def progress(self) -> ReadProgress:
        return ReadProgress()

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for i in range(self.count):
                if i == self.fail_at:
                    raise TerminalReadError(f"row {i} is unreadable")
                self.threads.add(threading.current_thread().name)
                self.read += 1
                yield pa.record_batch([pa.array([i])], schema=SCHEMA)
        finally:
            self.finished.set()

    def close(self) -> None:
        pass


def test_batches_arrive_in_order_from_a_thread_of_their_own() -> None:
    read = ThreadRecordingRead(50)
    got = [b.column(0)[0].as_py() for b in read_ahead(read)]
    assert got == list(range(50))
    assert read.threads == {"sluice-read-ahead-0"}
    assert threading.current_thread().name not in read.threads


def test_a_read_error_reaches_the_consumer_as_itself_after_the_earlier_batches() -> None:
    read = ThreadRecordingRead(10, fail_at=3)
    got: list[int] = []
    with pytest.raises(TerminalReadError, match="row 3 is unreadable"):
        for batch in read_ahead(read):
            got.append(batch.column(0)[0].as_py())
    assert got == [0, 1, 2]
    assert read.finished.wait(5)


def test_a_consumer_that_stops_early_stops_the_read_within_a_batch_or_two() -> None:
    read = ThreadRecordingRead(1000)
    batches = read_ahead(read)
    assert next(batches).column(0)[0].as_py() == 0
    batches.close()  # as the runner does when the write fails or the run is cancelled
    assert read.finished.is_set()  # closing waited for the thread and its clean-up
    assert read.read <= 4
    assert not any(t.name.startswith("sluice-read-ahead") for t in threading.enumerate())
