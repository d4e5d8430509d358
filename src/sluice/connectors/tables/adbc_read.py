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
from sluice.connectors.read_base import Closable, SelfClosingRead

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
        reader = self._reader
        while reader is not None:
            failure: SourceReadError | None = None
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except _READ_ERRORS as error:
                failure = self._read_error(error)
            # Raised outside the handler, so the driver's exception (its message may hold a
            # secret) is not chained to it.
            if failure is not None:
                raise failure
            yield batch

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
