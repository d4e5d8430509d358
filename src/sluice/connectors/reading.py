"""What a source reader is: a stream of bounded Arrow record batches for one run.

Each source connection spec that can be read sets `ConnectionSpec.open_source` (and, for
table sources, `check_delta_column`). The engine never knows which connector it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from sluice.domain.windows import Window

DEFAULT_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class SourceFile:
    """A file a file-source run reads; recorded on the run so a retry reads the same files."""

    path: str
    size: int
    modified_at: float


@dataclass(frozen=True)
class ReadRequest:
    # None: a full load (the first run of a `once` flow reads everything).
    window: Window | None
    # Table sources: the column compared to the window (already checked to exist).
    delta_column: str | None = None
    # Zone of zone-less timestamp delta columns (the Copy transformation's `timezone`).
    timezone: str = "UTC"
    batch_rows: int = DEFAULT_BATCH_ROWS
    # File sources: exactly these files (a re-trigger), instead of selecting by mtime.
    files: tuple[SourceFile, ...] | None = None
    # At most this many rows in all (previews); None reads the whole window. Readers push it
    # down (LIMIT, stop after the first file) so a preview never scans a whole table.
    limit: int | None = None


@dataclass
class BadRow:
    """A row that could not be parsed; kept with its reason when diagnostics are enabled."""

    reason: str
    location: str
    raw: str | None = None


@dataclass
class ReadProgress:
    """Counters the reader updates as it goes; the engine reports them while the run runs."""

    input_bytes: int = 0
    input_records: int = 0
    files: list[SourceFile] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)


class SourceRead(Protocol):
    """An opened read of one window. `schema` is known before the first batch."""

    @property
    def schema(self) -> pa.Schema: ...

    @property
    def progress(self) -> ReadProgress: ...

    def batches(self) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...


class SourceReadError(Exception):
    """Reading failed. `transient` says whether retrying the same read may succeed
    (network blip, server restart) or not (table dropped, file corrupt, bad credentials)."""

    def __init__(self, message: str, *, transient: bool, code: str = "CONNECTOR-1001-500"):
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.code = code


# (connector context, full auth params incl. secrets, source connection {data, params},
#  request) -> an opened read. Raises SourceReadError.
SourceOpener = Callable[[Any, Mapping[str, Any], Mapping[str, Any], ReadRequest], SourceRead]

# (connector context, auth params, source connection {data, params}, column name) -> None.
# Raises sluice.domain.errors.BadRequestError (400, code 1383 / 1000) when the column is
# missing or its type cannot be windowed; SourceReadError when the source is unreachable.
DeltaColumnChecker = Callable[[Any, Mapping[str, Any], Mapping[str, Any], str], None]
