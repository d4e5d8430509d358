"""What every open read shares (`sluice.connectors.reading.SourceRead`): the schema fixed when
the read opens, its progress counters, and for most a `batches()` that releases the read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Protocol

import pyarrow as pa

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
