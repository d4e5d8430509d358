"""How one file is parsed: its format options, its compression, and its archive members.

A file becomes one or more `Part`s, each a stream of delimited text or JSON lines:
the file itself, decompressed (gzip, bzip2, deflate), or each regular member of an archive
(zip in name order; tar and tar.gz in archive order). Everything streams: tar archives are
read front to back, and a zip archive, whose index sits at its end, is read with seeks on
the opened file (fsspec files are seekable: ranged reads on object stores), never loaded
whole. Parquet needs seeks too and ignores `compressionType` (it compresses inside).
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from sluice.connectors.errors import SourceReadError, UnreadableDataError
from sluice.connectors.files.file_spec import COMPRESSIONS, FORMATS

FILE_ERROR_CODE = "CONNECTOR-2001-500"
_ARROW_CODECS = {"gzip": "gzip", "bzip2": "bz2"}
_CHUNK = 1 << 20
# Text parsed per batch. pyarrow's 1 MiB default cut the benchmark's 2.6 MB files into three
# batches each, and every batch costs the same fixed work downstream (mapping, system
# columns, the writer's per-batch handling): 4 MiB made 600 batches 200 for 10-15 % less CPU
# (bench/README.md, "Fourth round"). It bounds a batch's memory too: a few MiB of text.
_PARSE_BLOCK_BYTES = 4 << 20

# Errors that mean "this file (or archive) is not what its format says". A plain OSError
# without errno comes from pyarrow's decoders ("Truncated compressed stream"); see
# sluice.connectors.files.reader for how the others are told apart.
FORMAT_ERRORS: tuple[type[BaseException], ...] = (
    pa.ArrowException,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    EOFError,
    ValueError,
    NotImplementedError,  # a zip member with a compression method Python cannot read
)


def _invalid(message: str) -> SourceReadError:
    return UnreadableDataError(message)


def flag(value: Any, *, default: bool) -> bool:
    """A boolean option given as a boolean or as "true"/"false"."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _one_character(data: Mapping[str, Any], key: str, default: str | None) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return default
    text = str(value)
    if len(text) != 1:
        raise _invalid(f"The option {key} ({text!r}) must be one character.")
    return text


@dataclass(frozen=True)
class FileFormat:
    """How the files of a source connection are parsed (its `data` object)."""

    format: str
    delimiter: str = ","
    quote: str | None = '"'
    escape: str | None = None
    header: bool = True
    compression: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> FileFormat:
        """The format of `data`; SourceReadError for one Sluice cannot read."""
        file_format = str(data.get("format", ""))
        if file_format not in FORMATS:
            raise _invalid(
                f"The file format {file_format!r} is not supported; use delimited, json or parquet."
            )
        compression = (data.get("properties") or {}).get("compressionType")
        if compression and str(compression) not in COMPRESSIONS:
            raise _invalid(
                f"The compression type {compression!r} is not supported; use one of"
                f" {', '.join(COMPRESSIONS)}."
            )
        delimiter = _one_character(data, "columnDelimiter", ",")
        assert delimiter is not None
        return cls(
            format=file_format,
            delimiter=delimiter,
            quote=_one_character(data, "quoteChar", '"'),
            escape=_one_character(data, "escapeChar", None),
            header=flag(data.get("header"), default=True),
            # Parquet compresses inside; a compression type given with it is ignored.
            compression=str(compression) if compression and file_format != "parquet" else None,
        )


@dataclass(frozen=True)
class Part:
    """One parsable stream of a file: the file itself, or one member of an archive."""

    label: str  # how messages and bad rows name it: "in/a.csv" or "in/a.zip!day1.csv"
    stream: Any  # a pyarrow input stream, already decompressed


class _Inflating(io.RawIOBase):
    """A deflate stream, with or without its zlib header, decompressed as it is read.

    Each read inflates at most _CHUNK bytes, keeping the rest of the compressed input for
    the next read, so memory stays bounded however well the data compresses.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._pending = b""
        self._tail = b""
        self._inflater: Any = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._inflater is not None and self._inflater.eof:
                return 0
            data = self._tail or self._raw.read(_CHUNK)
            if self._inflater is None:
                if not data:
                    return 0  # an empty file
                self._inflater = zlib.decompressobj(
                    zlib.MAX_WBITS if _has_zlib_header(data) else -zlib.MAX_WBITS
                )
            if not data:
                raise EOFError("the deflate stream ends before its last block")
            self._pending = self._inflater.decompress(data, _CHUNK)
            self._tail = self._inflater.unconsumed_tail
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _has_zlib_header(data: bytes) -> bool:
    """A zlib header: compression method 8 (deflate), and the two bytes a multiple of 31."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0


def _arrow_stream(raw: IO[bytes]) -> Any:
    """`raw` as a pyarrow stream (a native file, such as a local one, is used as is)."""
    return raw if isinstance(raw, pa.NativeFile) else pa.PythonFile(raw, mode="r")


@contextlib.contextmanager
def file_parts(raw: IO[bytes], label: str, compression: str | None) -> Iterator[Iterator[Part]]:
    """The parts of an opened (binary, seekable) file, decompressed; closed on exit."""
    with contextlib.ExitStack() as stack:
        if compression == "zipDeflate":
            zipped = stack.enter_context(zipfile.ZipFile(raw))
            yield _zip_members(zipped, label)
        elif compression in ("tar", "tarGzip"):
            # Stream mode ("r|"): members are read front to back, without seeks.
            if compression == "tarGzip":
                tarred = stack.enter_context(tarfile.open(fileobj=raw, mode="r|gz"))
            else:
                tarred = stack.enter_context(tarfile.open(fileobj=raw, mode="r|"))
            yield _tar_members(tarred, label)
        elif compression == "deflate":
            yield iter([Part(label, _arrow_stream(io.BufferedReader(_Inflating(raw), _CHUNK)))])
        elif compression in _ARROW_CODECS:
            codec = _ARROW_CODECS[compression]
            yield iter([Part(label, pa.CompressedInputStream(_arrow_stream(raw), codec))])
        else:
            yield iter([Part(label, _arrow_stream(raw))])


def _member_skipped(name: str) -> bool:
    """Archive entries that are not data: macOS resource forks and hidden files."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith(".")


def _zip_members(archive: zipfile.ZipFile, label: str) -> Iterator[Part]:
    members = sorted(
        (m for m in archive.infolist() if not m.is_dir() and not _member_skipped(m.filename)),
        key=lambda m: m.filename,
    )
    for member in members:
        # Each member is closed once the reader asks for the next one.
        with archive.open(member) as opened:
            yield Part(f"{label}!{member.filename}", _arrow_stream(opened))


def _tar_members(archive: tarfile.TarFile, label: str) -> Iterator[Part]:
    for member in archive:
        if not member.isreg() or _member_skipped(member.name):
            continue
        opened = archive.extractfile(member)
        if opened is not None:
            with opened:
                yield Part(f"{label}!{member.name}", _arrow_stream(opened))


def open_text_reader(
    stream: Any,
    file_format: FileFormat,
    schema: pa.Schema | None,
    on_invalid: Callable[[Any], str],
) -> pa.RecordBatchReader:
    """A streaming CSV or JSON-lines reader; `schema` fixes the column types when given."""
    if file_format.format == "json":
        return pa_json.open_json(
            stream,
            read_options=pa_json.ReadOptions(use_threads=False, block_size=_PARSE_BLOCK_BYTES),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema,
                unexpected_field_behavior="error" if schema is not None else "infer",
            ),
        )
    return pa_csv.open_csv(
        stream,
        read_options=pa_csv.ReadOptions(
            use_threads=False,
            block_size=_PARSE_BLOCK_BYTES,
            autogenerate_column_names=not file_format.header,
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=file_format.delimiter,
            quote_char=file_format.quote or False,
            escape_char=file_format.escape or False,
            newlines_in_values=True,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={f.name: f.type for f in schema} if schema is not None else None,
            strings_can_be_null=True,  # an empty field is null, whatever its column's type
        ),
    )
