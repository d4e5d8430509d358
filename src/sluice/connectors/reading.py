"""What a source reader is: a stream of bounded Arrow record batches for one run.

`Connector.read` (sluice.connectors.contract) opens one; the engine never knows which
connector it reads. Errors are in sluice.connectors.errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sluice.domain.windows import Window

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_BATCH_ROWS = 65_536

# The column file readers tag each row with (the file's path relative to the connection's
# root); the lake keeps it as a system column of file-sourced datasets.
SOURCE_FILE_COLUMN = "_sluice_source_file"


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
    # How many parts of the window to read at once (the flow's `parallelism`): table readers
    # cut the window on the delta column, file readers parse this many files at a time.
    parallelism: int = 1
    # The parts of a parallel window read in the snapshot of the read that cut the window,
    # where the source can share one (PostgreSQL: an exported snapshot id); None: their own.
    snapshot: str | None = None


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
    # Table sources: the rows of the window, counted with the read's own predicate in its
    # snapshot where the database allows (see docs/concepts.md, "Reconciliation"); None when
    # the reader does not count (previews, REST).
    source_count: int | None = None
    # File sources: how many of `files` were read to their end.
    files_read: int = 0
    # The rows the read expects, when the source can tell cheaply (PostgreSQL's planner
    # estimate); None when it cannot. Only for showing progress: never exact.
    expected_records: int | None = None


class SourceRead(Protocol):
    """An opened read of one window. `schema` is known before the first batch."""

    @property
    def schema(self) -> pa.Schema: ...

    @property
    def progress(self) -> ReadProgress: ...

    def batches(self) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...
