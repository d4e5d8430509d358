"""Reading a file-source run: its files, parsed into one stream of bounded Arrow batches.

The run's files are selected by `sluice.connectors.files.selection` (glob, recursive,
modification-time window, or exactly `ReadRequest.files` on a retry) and parsed by
`sluice.connectors.files.formats` (delimited, JSON lines, Parquet; compressed or
archived), on any fsspec filesystem a connector opens (see sluice.connectors.files.connector).

All files of a run yield one schema: the first file's (CSV columns with no value there read
as strings), every later file read with the same column types. Each batch gets a
`_sluice_source_file` column with the file's path relative to the root. CSV rows with the
wrong number of fields are skipped and recorded in `progress.bad_rows` as `file:line`
(`file!member:line` inside an archive), where the line counts records from the top of the
file (header included), which is the physical line unless a quoted value spans lines.
`ReadRequest.limit` stops the read after that many rows (previews open one file).
`ReadRequest.parallelism` files are parsed at once, each by a thread of its own, their
batches interleaved (each batch is still of one file).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from sluice.connectors.batching import bounded, one_line
from sluice.connectors.errors import SourceReadError, UnreadableDataError
from sluice.connectors.files.formats import (
    FORMAT_ERRORS,
    FileFormat,
    Part,
    file_parts,
    flag,
    open_text_reader,
)
from sluice.connectors.files.selection import (
    SelectedFile,
    is_local,
    listed_files,
    select_files,
    storage_error,
)
from sluice.connectors.merged_reads import MergedBatches
from sluice.connectors.read_base import OpenRead
from sluice.connectors.reading import SOURCE_FILE_COLUMN, BadRow, ReadProgress, ReadRequest

if TYPE_CHECKING:
    from sluice.connectors.files.location import FileLocation

_RAW_TEXT_LIMIT = 1000
# Read-ahead of remote files: large enough for few round trips, small enough per open file.
_REMOTE_BLOCK_BYTES = 8 << 20

T = TypeVar("T")


def read_files(
    location: FileLocation, source: Mapping[str, Any], request: ReadRequest
) -> FilesRead:
    """Select the run's files and read the first one's schema."""
    file_format = FileFormat.parse(source.get("data") or {})
    params = source.get("params") or {}
    if request.files is not None:
        files = listed_files(location, request.files)
    else:
        recursive = flag(params.get("recursive"), default=False)
        files = select_files(location, str(params.get("path", "")), recursive, request.window)
    return FilesRead(
        location, files, file_format, request.batch_rows, request.limit, request.parallelism
    )


class FilesRead(OpenRead):
    """An open read of a run's files: one schema, batches of at most batch_rows rows; its
    batches() leaves closing to whoever opened it (the runner and explore both do)."""

    def __init__(
        self,
        location: FileLocation,
        files: list[SelectedFile],
        file_format: FileFormat,
        batch_rows: int,
        limit: int | None = None,
        parallelism: int = 1,
    ) -> None:
        self._location = location
        self._files = files
        self._format = file_format
        self._batch_rows = batch_rows
        self._limit = limit
        self._parallelism = parallelism
        self._merged: MergedBatches | None = None
        # Threads reading files at once share the progress counters.
        self._counting = threading.Lock()
        self._closed = False
        # What the file being read holds open (a serial read; parallel parts hold their own).
        self._current = contextlib.ExitStack()
        self._data_schema = self._infer_schema()
        super().__init__(
            self._data_schema.append(pa.field(SOURCE_FILE_COLUMN, pa.string())),
            ReadProgress(files=[f.file for f in files]),
        )

    def close(self) -> None:
        self._closed = True
        if self._merged is not None:
            self._merged.stop()  # each thread closes the file it reads
        with contextlib.suppress(Exception):
            self._current.close()
        with contextlib.suppress(Exception):
            self._location.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self._limit is None and self._parallelism > 1 and len(self._files) > 1:
            parts = [partial(self._file_batches, selected) for selected in self._files]
            self._merged = MergedBatches(parts, self._parallelism, "sluice-files")
            yield from self._merged
            return
        remaining = self._limit
        for selected in self._files:
            if self._closed or remaining == 0:
                return
            with contextlib.ExitStack() as stack:
                self._current = stack  # for close() while the consumer holds a batch
                for batch in bounded(self._read_file(selected, stack), self._batch_rows):
                    if self._closed:
                        return
                    if remaining is not None:
                        batch = batch.slice(0, remaining)
                        remaining -= batch.num_rows
                    yield self._tagged(selected, batch)
                    if remaining == 0:
                        return
            self._file_read(selected)

    def _file_batches(self, selected: SelectedFile) -> Iterator[pa.RecordBatch]:
        """One file's batches, tagged and counted (a part of a parallel read: its thread
        holds the file open, and MergedBatches.stop() closes it)."""
        with contextlib.ExitStack() as stack:
            for batch in bounded(self._read_file(selected, stack), self._batch_rows):
                if self._closed:
                    return
                yield self._tagged(selected, batch)
        self._file_read(selected)

    def _tagged(self, selected: SelectedFile, batch: pa.RecordBatch) -> pa.RecordBatch:
        """`batch` with its file's path column, counted."""
        source = pa.repeat(selected.file.path, batch.num_rows)
        with self._counting:
            self._progress.input_records += batch.num_rows
        return pa.RecordBatch.from_arrays([*batch.columns, source], schema=self._schema)

    def _file_read(self, selected: SelectedFile) -> None:
        with self._counting:
            self._progress.input_bytes += selected.file.size
            self._progress.files_read += 1

    # Opening and guarding.

    def _open(self, selected: SelectedFile, stack: contextlib.ExitStack) -> Any:
        """The file as a binary stream: native on a local disk, fsspec's file elsewhere."""
        if is_local(self._location):
            return stack.enter_context(pa.OSFile(selected.path))
        opened = self._location.fs.open(selected.path, "rb", block_size=_REMOTE_BLOCK_BYTES)
        return stack.enter_context(opened)

    def _guarded(self, label: str, action: Callable[[], T]) -> T:
        """Run `action`, turning a failure into a coded SourceReadError naming the file:
        terminal when the file is malformed, missing or forbidden; transient when the
        storage could not be reached (an OSError with an errno, or a backend's own error)."""
        try:
            return action()
        except SourceReadError:
            raise
        except (FileNotFoundError, PermissionError, ConnectionError, TimeoutError) as error:
            raise storage_error(self._location, error, label) from None
        except OSError as error:
            if error.errno is not None:
                raise storage_error(self._location, error, label) from None
            failure = one_line(str(error))  # pyarrow's decoders: "Truncated compressed stream"
        except FORMAT_ERRORS as error:
            failure = one_line(str(error)) or type(error).__name__
        except Exception as error:
            raise storage_error(self._location, error, label) from None
        raise UnreadableDataError(
            f'File "{label}" could not be read as {self._describe_format()}: {failure}',
        )

    def _describe_format(self) -> str:
        if self._format.compression:
            return f"{self._format.format} ({self._format.compression})"
        return self._format.format

    def _parts(self, selected: SelectedFile, stack: contextlib.ExitStack) -> Iterator[Part]:
        """The parts of a file (itself, or its archive members), opened in `stack`."""
        label = selected.file.path
        raw = self._guarded(label, lambda: self._open(selected, stack))
        parts = self._guarded(
            label,
            lambda: stack.enter_context(file_parts(raw, label, self._format.compression)),
        )
        while not self._closed:
            part = self._guarded(label, lambda: next(parts, None))
            if part is None:
                return
            yield part

    # Schema.

    def _infer_schema(self) -> pa.Schema:
        """The data columns of the first file with rows; CSV columns without values: string."""
        for selected in self._files:
            if selected.file.size == 0:
                continue
            with contextlib.ExitStack() as stack:
                schema = self._file_schema(selected, stack)
            if schema is None:
                continue
            if self._format.format == "delimited":
                schema = pa.schema(
                    [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema]
                )
            return schema.remove_metadata()
        return pa.schema([])

    def _file_schema(self, selected: SelectedFile, stack: contextlib.ExitStack) -> pa.Schema | None:
        """A file's own schema (None for a file, or archive, with nothing in it)."""
        label = selected.file.path
        if self._format.format == "parquet":
            raw = self._guarded(label, lambda: self._open(selected, stack))
            parquet = self._guarded(label, lambda: _parquet(raw, stack))
            return parquet.schema_arrow
        for part in self._parts(selected, stack):
            schema = self._guarded(part.label, partial(self._part_schema, part))
            if schema is not None:
                return schema
        return None

    def _part_schema(self, part: Part) -> pa.Schema | None:
        try:
            with contextlib.closing(
                open_text_reader(part.stream, self._format, None, lambda row: "skip")
            ) as reader:
                return reader.schema
        except pa.ArrowInvalid as error:
            if "Empty" in str(error):
                return None
            raise

    # Data.

    def _mismatch(self, label: str, names: list[str]) -> SourceReadError:
        return UnreadableDataError(
            f'File "{label}" has columns {", ".join(names)}; the run\'s first file has'
            f" {', '.join(self._data_schema.names)}. All files of a run need the same columns.",
        )

    def _read_file(
        self, selected: SelectedFile, stack: contextlib.ExitStack
    ) -> Iterator[pa.RecordBatch]:
        """The file's batches with the run's data schema; what it opens is held in `stack`."""
        if selected.file.size == 0:
            return
        if self._format.format == "parquet":
            yield from self._read_parquet(selected, stack)
            return
        for part in self._parts(selected, stack):
            yield from self._read_part(part)

    def _read_part(self, part: Part) -> Iterator[pa.RecordBatch]:
        def record(row: Any) -> str:
            text = row.text if row.text is not None else ""
            self._progress.bad_rows.append(
                BadRow(
                    reason=f"expected {row.expected_columns} fields, found {row.actual_columns}",
                    location=f"{part.label}:{row.number if row.number is not None else '?'}",
                    raw=text[:_RAW_TEXT_LIMIT],
                )
            )
            return "skip"

        def open_reader() -> pa.RecordBatchReader | None:
            try:
                return open_text_reader(part.stream, self._format, self._data_schema, record)
            except pa.ArrowInvalid as error:
                if "Empty" in str(error):
                    return None
                if "unexpected field" in str(error).lower():
                    missing = ["(a field the first file does not have)"]
                    raise self._mismatch(part.label, missing) from None
                raise

        reader = self._guarded(part.label, open_reader)
        if reader is None:
            return
        with contextlib.closing(reader):
            if reader.schema.names != self._data_schema.names:
                raise self._mismatch(part.label, reader.schema.names)
            while not self._closed:
                batch = self._guarded(part.label, lambda: _next_or_none(reader))
                if batch is None:
                    return
                yield batch

    def _read_parquet(
        self, selected: SelectedFile, stack: contextlib.ExitStack
    ) -> Iterator[pa.RecordBatch]:
        label = selected.file.path
        raw = self._guarded(label, lambda: self._open(selected, stack))
        parquet = self._guarded(label, lambda: _parquet(raw, stack))
        if parquet.schema_arrow.names != self._data_schema.names:
            raise self._mismatch(label, parquet.schema_arrow.names)
        batches = parquet.iter_batches(batch_size=self._batch_rows, use_threads=False)
        while not self._closed:
            batch = self._guarded(label, lambda: _next_or_none(batches))
            if batch is None:
                return
            if batch.schema != self._data_schema:
                batch = self._guarded(label, partial(batch.cast, self._data_schema))
            yield batch


def _parquet(raw: Any, stack: contextlib.ExitStack) -> pq.ParquetFile:
    return stack.enter_context(contextlib.closing(pq.ParquetFile(raw)))


def _next_or_none(batches: Iterator[pa.RecordBatch]) -> pa.RecordBatch | None:
    """The next batch, or None at the end (so a failure can be told from the end)."""
    return next(batches, None)
