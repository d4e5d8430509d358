"""What the ADBC table reads (PostgreSQL, SQLite) share: streaming the driver's Arrow batches
without leaking its errors, and releasing the stream, its cursor and its connection."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import adbc_driver_manager
import pyarrow as pa

from sluice.connectors.errors import SourceReadError
from sluice.connectors.read_base import Closable, SelfClosingRead, stream_batches

# What reading the next batch of an ADBC driver's stream may raise.
_READ_ERRORS = (adbc_driver_manager.Error, OSError, pa.ArrowException)


class AdbcRead(SelfClosingRead):
    """An open read of an ADBC cursor's stream, on a connection of its own."""

    def __init__(
        self, schema: pa.Schema, reader: pa.RecordBatchReader, cursor: Any, connection: Closable
    ) -> None:
        super().__init__(schema)
        self._reader: pa.RecordBatchReader | None = reader
        self._cursor = cursor
        self._connection = connection

    def _raw_batches(self) -> Iterator[pa.RecordBatch]:
        """The driver's batches as they come; a failure raised as `_read_error(error)`."""
        return stream_batches(self._reader, self._stream_error)

    def _stream_error(self, error: BaseException) -> SourceReadError | None:
        """Only the stream's own failures are translated; anything else propagates."""
        return self._read_error(error) if isinstance(error, _READ_ERRORS) else None

    @abstractmethod
    def _read_error(self, error: BaseException) -> SourceReadError:
        """The SourceReadError for a failure of the stream; no secret in its message."""

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is None:
            return
        for release in (reader.close, self._cursor.close, self._connection.close):
            with contextlib.suppress(Exception):  # release everything even if one part fails
                release()
