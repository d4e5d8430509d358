"""Reading files in a local folder: selected by glob and modification time, parsed by pyarrow.

Files are the regular files under the connection's root folder that match `params.path` (a
file, a folder or a glob relative to the root; `recursive` adds `**`), whose modification time
lies in the window; or exactly `ReadRequest.files` on a retry. Every match is resolved
(symlinks followed) and skipped unless it stays inside the root; hidden files (a name
starting with '.', such as an upload in progress) are skipped.

All files of a run yield one schema: the first file's (CSV columns with no value there read
as strings), every later file read with the same column types. Each batch gets a
`_sluice_source_file` column with the file's path relative to the root. CSV rows with the
wrong number of fields are skipped and recorded in `progress.bad_rows` as `file:line`,
where the line counts records from the top of the file (header included), which is the
physical line unless a quoted value spans lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from sluice.connectors.readers.batching import bounded, one_line
from sluice.connectors.reading import (
    BadRow,
    ReadProgress,
    ReadRequest,
    SourceFile,
    SourceRead,
    SourceReadError,
)
from sluice.connectors.registry import ConnectionTestFailed, ConnectorContext
from sluice.domain.windows import Window

SOURCE_FILE_COLUMN = "_sluice_source_file"
FILE_ERROR_CODE = "CONNECTOR-2001-500"
_CODECS = {"gzip": "gzip", "bzip2": "bz2"}
_GLOB_CHARACTERS = frozenset("*?[")
_RAW_TEXT_LIMIT = 1000


@dataclass(frozen=True)
class FileFormat:
    """How the files of a source connection are parsed (its `data` object)."""

    format: str
    delimiter: str = ","
    header: bool = True
    codec: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> FileFormat:
        """The format of `data`; SourceReadError for one Sluice cannot read."""
        file_format = str(data.get("format", ""))
        if file_format not in ("delimited", "json", "parquet"):
            raise SourceReadError(
                f"The file format {file_format!r} is not supported; use delimited, json or"
                " parquet.",
                transient=False,
                code=FILE_ERROR_CODE,
            )
        compression = (data.get("properties") or {}).get("compressionType")
        codec = None
        if compression and file_format != "parquet":  # Parquet compresses internally
            codec = _CODECS.get(str(compression))
            if codec is None:
                raise SourceReadError(
                    f"The compression type {compression!r} is not supported yet; use gzip or"
                    " bzip2.",
                    transient=False,
                    code=FILE_ERROR_CODE,
                )
        delimiter = str(data.get("columnDelimiter") or ",")
        if len(delimiter) != 1:
            raise SourceReadError(
                f"The column delimiter {delimiter!r} must be one character.",
                transient=False,
                code=FILE_ERROR_CODE,
            )
        return cls(file_format, delimiter, _flag(data.get("header"), default=True), codec)


def _flag(value: Any, *, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


@dataclass(frozen=True)
class _Selected:
    path: Path
    file: SourceFile


def _root(context: ConnectorContext, auth: Mapping[str, Any]) -> Path:
    # Imported here: the spec module imports this one to set its `open_source`.
    from sluice.connectors.specs.local_files import root_folder

    try:
        root = root_folder(context, auth)
    except ConnectionTestFailed as error:
        raise SourceReadError(str(error), transient=False) from None
    if not root.is_dir():
        raise SourceReadError(f"The folder {str(root)!r} does not exist.", transient=False)
    return root


def _relative_parts(path: str) -> tuple[str, ...]:
    """The parts of a user path taken relative to the root; SourceReadError if it climbs."""
    parts = tuple(p for p in PurePosixPath(path.strip()).parts if p not in ("/", "."))
    if ".." in parts or "\x00" in path:
        raise SourceReadError(
            f"The path {path!r} must stay inside the connection's folder.",
            transient=False,
            code=FILE_ERROR_CODE,
        )
    return parts


def _inside(root: Path, candidate: Path) -> Path | None:
    """`candidate` resolved, if it is a regular file inside `root`; else None."""
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):  # gone, or a symlink loop
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


def _describe(root: Path, resolved: Path) -> SourceFile:
    stat = resolved.stat()
    return SourceFile(
        path=resolved.relative_to(root).as_posix(), size=stat.st_size, modified_at=stat.st_mtime
    )


def select_files(
    root: Path, path: str, recursive: bool, window: Window | None
) -> list[tuple[Path, SourceFile]]:
    """The files under `root` matching `path` whose mtime is in `window`, oldest first."""
    parts = _relative_parts(path)
    pattern = "/".join(parts)
    candidates: list[Path] = []
    if any(ch in _GLOB_CHARACTERS for ch in pattern):
        if recursive:
            head, _, last = pattern.rpartition("/")
            pattern = f"{head}/**/{last}" if head else f"**/{last}"
        matches: list[Path] = list(root.glob(pattern))
    else:
        matches = [root.joinpath(*parts)]
    for match in matches:
        if match.is_dir():
            candidates.extend(match.glob("**/*" if recursive else "*"))
        else:
            candidates.append(match)
    selected: dict[Path, SourceFile] = {}
    for candidate in candidates:
        if candidate.name.startswith("."):
            continue
        resolved = _inside(root, candidate)
        if resolved is None or resolved in selected:
            continue
        try:
            described = _describe(root, resolved)
        except OSError:
            continue
        if window is None or window.contains(described.modified_at):
            selected[resolved] = described
    ordered = sorted(selected.items(), key=lambda item: (item[1].modified_at, item[1].path))
    return ordered


def listed_files(root: Path, files: tuple[SourceFile, ...]) -> list[tuple[Path, SourceFile]]:
    """The files of an earlier run, as they are now; SourceReadError if one is gone."""
    result = []
    for listed in files:
        resolved = _inside(root, root.joinpath(*_relative_parts(listed.path)))
        if resolved is None:
            raise SourceReadError(
                f'File "{listed.path}", read by the original run, no longer exists.',
                transient=False,
                code=FILE_ERROR_CODE,
            )
        result.append((resolved, _describe(root, resolved)))
    return result


def open_source(
    context: ConnectorContext,
    auth: Mapping[str, Any],
    source: Mapping[str, Any],
    request: ReadRequest,
) -> SourceRead:
    """Select the run's files and read the first one's schema."""
    root = _root(context, auth)
    file_format = FileFormat.parse(source.get("data") or {})
    params = source.get("params") or {}
    if request.files is not None:
        files = listed_files(root, request.files)
    else:
        recursive = _flag(params.get("recursive"), default=False)
        files = select_files(root, str(params.get("path", "")), recursive, request.window)
    return FilesRead(files, file_format, request.batch_rows)


class FilesRead:
    """An open read of a run's files: one schema, batches of at most batch_rows rows."""

    def __init__(
        self, files: list[tuple[Path, SourceFile]], file_format: FileFormat, batch_rows: int
    ) -> None:
        self._files = files
        self._format = file_format
        self._batch_rows = batch_rows
        self._progress = ReadProgress(files=[f for _, f in files])
        self._closed = False
        self._open_reader: Any = None  # the file being read, closed by close()
        self._data_schema = self._infer_schema()
        self._schema = self._data_schema.append(pa.field(SOURCE_FILE_COLUMN, pa.string()))

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    @property
    def progress(self) -> ReadProgress:
        return self._progress

    def close(self) -> None:
        self._closed = True
        reader, self._open_reader = self._open_reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                reader.close()

    def batches(self) -> Iterator[pa.RecordBatch]:
        for path, described in self._files:
            if self._closed:
                return
            for batch in bounded(self._read_file(path, described), self._batch_rows):
                if self._closed:
                    return
                source = pa.repeat(described.path, batch.num_rows)
                self._progress.input_records += batch.num_rows
                yield pa.RecordBatch.from_arrays([*batch.columns, source], schema=self._schema)
            self._progress.input_bytes += described.size

    def _infer_schema(self) -> pa.Schema:
        """The data columns of the first file with rows; CSV columns without values: string."""
        for path, described in self._files:
            if described.size == 0:
                continue
            schema = self._guarded(described, partial(self._file_schema, path))
            if schema is None:
                continue
            if self._format.format == "delimited":
                fields = [
                    f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema
                ]
                schema = pa.schema(fields)
            return schema.remove_metadata()
        return pa.schema([])

    def _file_schema(self, path: Path) -> pa.Schema | None:
        """A file's own schema (None for a file with nothing in it)."""
        if self._format.format == "parquet":
            with contextlib.closing(pq.ParquetFile(path)) as parquet:
                return parquet.schema_arrow
        try:
            with contextlib.closing(self._open_text(path, None, lambda row: "skip")) as reader:
                return reader.schema
        except pa.ArrowInvalid as error:
            if "Empty" in str(error):
                return None
            raise

    def _open_text(
        self, path: Path, schema: pa.Schema | None, on_invalid: Callable[[Any], str]
    ) -> pa.RecordBatchReader:
        stream: Any = pa.OSFile(str(path))
        if self._format.codec:
            stream = pa.CompressedInputStream(stream, self._format.codec)
        if self._format.format == "json":
            return pa_json.open_json(
                stream,
                read_options=pa_json.ReadOptions(use_threads=False),
                parse_options=pa_json.ParseOptions(
                    explicit_schema=schema,
                    unexpected_field_behavior="error" if schema is not None else "infer",
                ),
            )
        return pa_csv.open_csv(
            stream,
            read_options=pa_csv.ReadOptions(
                use_threads=False, autogenerate_column_names=not self._format.header
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=self._format.delimiter,
                newlines_in_values=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={f.name: f.type for f in schema} if schema is not None else None,
                strings_can_be_null=True,  # an empty field is null, whatever its column's type
            ),
        )

    def _guarded(self, described: SourceFile, action: Callable[[], Any]) -> Any:
        """Run `action`, turning a parse or I/O failure into a terminal SourceReadError."""
        failure: str | None = None
        try:
            return action()
        except (pa.ArrowException, OSError, ValueError) as error:
            failure = one_line(str(error))
        raise SourceReadError(
            f'File "{described.path}" could not be read as {self._format.format}: {failure}',
            transient=False,
            code=FILE_ERROR_CODE,
        )

    def _mismatch(self, described: SourceFile, names: list[str]) -> SourceReadError:
        return SourceReadError(
            f'File "{described.path}" has columns {", ".join(names)}; the run\'s first file has'
            f" {', '.join(self._data_schema.names)}. All files of a run need the same columns.",
            transient=False,
            code=FILE_ERROR_CODE,
        )

    def _read_file(self, path: Path, described: SourceFile) -> Iterator[pa.RecordBatch]:
        """The file's batches with the run's data schema."""
        if described.size == 0:
            return
        if self._format.format == "parquet":
            yield from self._read_parquet(path, described)
            return

        def record(row: Any) -> str:
            text = row.text if row.text is not None else ""
            self._progress.bad_rows.append(
                BadRow(
                    reason=f"expected {row.expected_columns} fields, found {row.actual_columns}",
                    location=f"{described.path}:{row.number if row.number is not None else '?'}",
                    raw=text[:_RAW_TEXT_LIMIT],
                )
            )
            return "skip"

        def open_reader() -> pa.RecordBatchReader | None:
            try:
                return self._open_text(path, self._data_schema, record)
            except pa.ArrowInvalid as error:
                if "Empty" in str(error):
                    return None
                if "unexpected field" in str(error).lower():
                    missing = ["(a field the first file does not have)"]
                    raise self._mismatch(described, missing) from None
                raise

        reader = self._guarded(described, open_reader)
        if reader is None:
            return
        self._open_reader = reader
        with contextlib.closing(reader):
            if reader.schema.names != self._data_schema.names:
                raise self._mismatch(described, reader.schema.names)
            while not self._closed:
                batch = self._guarded(described, lambda: _next_or_none(reader))
                if batch is None:
                    return
                yield batch

    def _read_parquet(self, path: Path, described: SourceFile) -> Iterator[pa.RecordBatch]:
        parquet = self._guarded(described, lambda: pq.ParquetFile(path))
        self._open_reader = parquet
        with contextlib.closing(parquet):
            file_schema = parquet.schema_arrow
            if file_schema.names != self._data_schema.names:
                raise self._mismatch(described, file_schema.names)
            batches = parquet.iter_batches(batch_size=self._batch_rows, use_threads=False)
            while not self._closed:
                batch = self._guarded(described, lambda: _next_or_none(batches))
                if batch is None:
                    return
                if batch.schema != self._data_schema:
                    batch = self._guarded(described, partial(batch.cast, self._data_schema))
                yield batch


def _next_or_none(batches: Iterator[pa.RecordBatch]) -> pa.RecordBatch | None:
    """The next batch, or None at the end (so a failure can be told from the end)."""
    return next(batches, None)
