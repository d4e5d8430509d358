"""What every open read shares (`sluice.connectors.reading.SourceRead`): the schema fixed when
the read opens, its progress counters, and for most a `batches()` that releases the read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Protocol

import pyarrow as pa

from sluice.connectors.errors import SourceReadError
from sluice.connectors.reading import ReadProgress


class Closable(Protocol):
    def close(self) -> object: ...


class OpenRead:
    """The `schema` and `progress` of an open read."""

    def __init__(self, schema: pa.Schema, progress: ReadProgress | None = None) -> None:
        self._schema = schema
        self._progress = progress if progress is not None else ReadProgress()

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    @property
    def progress(self) -> ReadProgress:
        return self._progress


class SelfClosingRead(OpenRead, ABC):
    """An open read whose `batches()` closes it however the iteration ends (all read, failed,
    or left by a consumer that stopped early, as a preview does), so no connection outlives
    the read."""

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._batches()
        finally:
            self.close()

    @abstractmethod
    def _batches(self) -> Iterator[pa.RecordBatch]: ...

    @abstractmethod
    def close(self) -> None: ...


def stream_batches(
    reader: pa.RecordBatchReader | None,
    read_error: Callable[[BaseException], SourceReadError | None],
) -> Iterator[pa.RecordBatch]:
    """The batches of a driver's Arrow stream as they come (none once the read is closed).

    A failure is raised as `read_error(error)`; a failure it answers None for is not the
    stream's and propagates as it is.
    """
    if reader is None:
        return
    while True:
        failure: SourceReadError | None = None
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except BaseException as error:
            failure = read_error(error)
            if failure is None:
                raise
        # Raised outside the handler, so the driver's exception (its message may hold a
        # secret) is not chained to it.
        if failure is not None:
            raise failure
        yield batch
