"""Helpers of the connector tests: PostgreSQL settings and auth params, a failed connection
test, reading a whole read, and what the tests of the files reader share (writing files,
source params, reads and failures of one spec, and the glob / `recursive` selection every file
store must make the same way)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pyarrow as pa
import pytest

from sluice.connectors.contract import Connector, ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, SourceReadError
from sluice.connectors.files.local import CONNECTOR as LOCAL_FILES
from sluice.connectors.reading import SOURCE_FILE_COLUMN, ReadRequest, SourceRead
from support.net import closed_port  # noqa: F401  (the connector tests take it from here)

PG_HOST = os.environ.get("SLUICE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SLUICE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SLUICE_TEST_PG_USER", "postgres")
PG_DATABASE = os.environ.get("SLUICE_TEST_PG_DATABASE", "test")
# Recognizable, so a leak into any message is caught; URL-special characters on purpose.
FAKE_PASSWORD = "Fake-Pa55:w@rd/Reader"


def pg_sqlalchemy_url() -> str:
    """The test database as the SQL database connector's `url` (trust auth, no password)."""
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"


def pg_dsn() -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={PG_DATABASE}"


def pg_auth(**overrides: Any) -> dict[str, Any]:
    return {"host": PG_HOST, "port": PG_PORT, "database": PG_DATABASE, "username": PG_USER,
            "password": FAKE_PASSWORD, "sslMode": "disable", **overrides}


def connection_test_failure(connector: Connector, context: ConnectorContext,
                            params: dict[str, Any]) -> ConnectionTestFailed:
    """What the connector's connection test raises on `params` (the test fails if it passes)."""
    with pytest.raises(ConnectionTestFailed) as caught:
        connector.test(context, params)
    return caught.value


def secret_free_failure(connector: Connector, context: ConnectorContext, params: dict[str, Any],
                        *secrets: str) -> str:
    """The message of a failed connection test, checked to show none of `secrets` and to
    carry no chained driver exception (whose text could)."""
    failure = connection_test_failure(connector, context, params)
    message = str(failure)
    for secret in secrets:
        assert secret not in message
    assert failure.__cause__ is None
    return message


def read_all(read: SourceRead) -> tuple[pa.Table, list[pa.RecordBatch]]:
    """Every batch of a read (closed afterwards), and them as one table of the read's schema."""
    try:
        batches = list(read.batches())
    finally:
        read.close()
    for batch in batches:
        assert batch.schema == read.schema
    return pa.Table.from_batches(batches, schema=read.schema), batches


def pg_execute(sql: str, params: Any = None) -> None:
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        connection.execute(sql, params)  # type: ignore[arg-type]


@contextmanager
def pg_table(prefix: str) -> Iterator[str]:
    """A unique table name in the test database: the block creates the table, which is
    dropped at its end (whether or not it was created)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        pg_execute(f"DROP TABLE IF EXISTS {name}")


# -- the files reader ------------------------------------------------------------------------

T0 = 1_700_000_000
FILE_ERROR = "CONNECTOR-2001-500"  # a file that cannot be read (or must not be)
SOURCE_ERROR = "CONNECTOR-1001-500"  # the store itself: missing, refused, unreachable
# Paths that would leave the connection's root: every file store refuses them.
OUTSIDE_PATHS = ["../other/*.csv", "in/../../x.csv", "a/\x00b"]
# The objects of the glob / `recursive` checks (`check_glob_and_recursive`), each "id\n1\n".
GLOB_TREE = ("top.csv", "data/a.csv", "data/sub/b.csv", "data/sub/deep/c.csv",
             "data/notes.txt", "data/.partial.csv")
OpenSource = Callable[[ConnectorContext, dict[str, Any], dict[str, Any], ReadRequest], SourceRead]


def write_file(root: Path, relative: str, content: bytes | str, mtime: float = T0) -> Path:
    """A file under `root` (folders made as needed) with that modification time."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (mtime, mtime))
    return path


def file_source(path: str, fmt: str = "delimited", recursive: Any = False, *,
                compression: str | None = None, **data: Any) -> dict[str, Any]:
    """A file source connection's `{"data": ..., "params": ...}`."""
    if compression:
        data["properties"] = {"compressionType": compression}
    return {"data": {"format": fmt, **data}, "params": {"path": path, "recursive": recursive}}


def files_of(table: pa.Table) -> list[str]:
    """The files a read's rows came from (its file tag column), sorted."""
    return sorted(set(table.column(SOURCE_FILE_COLUMN).to_pylist()))


@dataclass(frozen=True)
class Failure:
    code: str
    transient: bool
    message: str


class FileReads(NamedTuple):
    """Whole reads through one spec's `open_source`: `read(context, auth, src, request=None)`
    gives the rows as one table and the (closed) read; `failure(context, auth, src=None)`, how
    the read failed."""

    read: Callable[..., tuple[pa.Table, Any]]
    failure: Callable[..., Failure]


def file_reads(open_source: OpenSource) -> FileReads:
    def read(context: ConnectorContext, auth: dict[str, Any], src: dict[str, Any],
             request: ReadRequest | None = None) -> tuple[pa.Table, Any]:
        opened = open_source(context, auth, src, request or ReadRequest(window=None))
        table, _ = read_all(opened)
        return table, opened

    def failure(context: ConnectorContext, auth: dict[str, Any],
                src: dict[str, Any] | None = None) -> Failure:
        # Only the facts are kept: the error's traceback would hold the read, and with it a
        # connection, alive.
        try:
            read(context, auth, src or file_source("*.csv"))
        except SourceReadError as error:
            return Failure(error.code, error.transient, error.message)
        raise AssertionError("the read succeeded")

    return FileReads(read, failure)


def read_folder(context: ConnectorContext, root: Path, src: dict[str, Any],
                request: ReadRequest | None = None) -> tuple[pa.Table, Any]:
    """A whole read of the local folder `root` (the Local Folder spec)."""
    return file_reads(LOCAL_FILES.read).read(context, {"rootPath": str(root)}, src, request)


def check_glob_and_recursive(files_read: Callable[[dict[str, Any], dict[str, Any]], pa.Table],
                             auth: dict[str, Any], scoped: dict[str, Any]) -> None:
    """The files selected from `GLOB_TREE` (already written) by a glob, a folder, `recursive`
    (a string or a bool) and a leading `/`; then relative to a root of `data/sub` (`scoped`).
    `files_read(auth, source)` reads the rows."""
    def files(params: dict[str, Any], path: str, recursive: Any = False) -> list[str]:
        return files_of(files_read(params, file_source(path, recursive=recursive)))

    assert files(auth, "data/*.csv") == ["data/a.csv"]
    assert files(auth, "data/*.csv", "true") == [
        "data/a.csv", "data/sub/b.csv", "data/sub/deep/c.csv"]
    assert files(auth, "data/sub") == ["data/sub/b.csv"]
    assert files(auth, "/data/sub", True) == ["data/sub/b.csv", "data/sub/deep/c.csv"]
    # A root folder in the connection: paths are relative to it.
    assert files(scoped, "*.csv", True) == ["b.csv", "deep/c.csv"]


def check_csv_and_json_lines(put: Callable[[str, str], object],
                             files_read: Callable[[dict[str, Any]], pa.Table],
                             delimiter: str, second_ok: bool | None) -> None:
    """Delimited text split on `delimiter` (numbers typed, an empty field null) and JSON lines
    (`ok`: true, then `second_ok`), put at `csv/a.csv` and `json/a.jsonl` and read back by
    folder; `files_read(source)` reads the rows."""
    put("csv/a.csv", "id,amount,label\n1,2.5,x\n2,,y\n".replace(",", delimiter))
    put("json/a.jsonl", f'{{"id": 1, "ok": true}}\n{{"id": 2, "ok": {json.dumps(second_ok)}}}\n')
    table = files_read(file_source("csv", columnDelimiter=delimiter))
    assert table.schema.field("amount").type == pa.float64()
    assert table.select(["id", "amount", "label"]).to_pylist() == [
        {"id": 1, "amount": 2.5, "label": "x"}, {"id": 2, "amount": None, "label": "y"}]
    table = files_read(file_source("json", "json"))
    assert table.select(["id", "ok"]).to_pylist() == [
        {"id": 1, "ok": True}, {"id": 2, "ok": second_ok}]
