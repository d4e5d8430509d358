"""The files reader over SFTP, against a real SSH server on loopback: windows by mtime, globs
and `recursive`, formats and compression, limits, retries, and every failure's code."""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import SourceReadError
from sluice.connectors.files.sftp import CONNECTOR
from sluice.connectors.reading import SOURCE_FILE_COLUMN, ReadRequest, SourceFile
from sluice.domain.windows import Window
from support.connector_reads import (
    FILE_ERROR,
    GLOB_TREE,
    OUTSIDE_PATHS,
    SOURCE_ERROR,
    T0,
    check_csv_and_json_lines,
    check_glob_and_recursive,
    closed_port,
    file_reads,
    file_source,
    files_of,
)
from support.sftp_server import PASSWORD, SftpServer, running_sftp_server

HOUR = 3600

read, failure = file_reads(CONNECTOR.read)
source = file_source


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpServer]:
    with running_sftp_server(tmp_path / "sftp") as running:
        yield running


def no_connection_left(server: SftpServer) -> bool:
    for _ in range(200):
        if server.open_connections() == 0:
            return True
        time.sleep(0.05)
    return False


def test_window_is_half_open_on_modification_times(
    context: ConnectorContext, server: SftpServer
) -> None:
    start, end = T0, T0 + HOUR
    mtimes = {"before": start - 1, "at_start": start, "inside": start + 60,
              "last_second": end - 1, "at_end": end}
    for name, mtime in mtimes.items():
        server.write(f"in/{name}.csv", f"name\n{name}\n", mtime=mtime)
    auth = server.password_auth()
    table, opened = read(context, auth, source("in"), ReadRequest(window=Window(start, end)))
    assert files_of(table) == ["in/at_start.csv", "in/inside.csv", "in/last_second.csv"]
    # Oldest first, each recorded with its size and mtime (for a retry).
    assert opened.progress.files == [
        SourceFile("in/at_start.csv", 14, float(start)),
        SourceFile("in/inside.csv", 12, float(start + 60)),
        SourceFile("in/last_second.csv", 17, float(end - 1)),
    ]
    assert table.column("name").to_pylist() == ["at_start", "inside", "last_second"]
    opened.close()  # closes the SSH connection now, though the read is still referenced
    assert no_connection_left(server)
    assert opened.progress.files  # (the read is still alive here)


def test_a_retry_reads_exactly_the_original_files(
    context: ConnectorContext, server: SftpServer
) -> None:
    server.write("in/one.csv", "id\n1\n", mtime=T0)
    auth = server.password_auth()
    first, opened = read(context, auth, source("in/*.csv"),
                         ReadRequest(window=Window(T0, T0 + HOUR)))
    server.write("in/two.csv", "id\n2\n", mtime=T0 + 1)  # arrived after the run
    retry = ReadRequest(window=Window(T0, T0 + HOUR), files=tuple(opened.progress.files))
    again, _ = read(context, auth, source("in/*.csv"), retry)
    assert again.to_pylist() == first.to_pylist() == [
        {"id": 1, SOURCE_FILE_COLUMN: "in/one.csv"}]
    (server.root / "in" / "one.csv").unlink()
    try:
        CONNECTOR.read(context, auth, source("in/*.csv"), retry)
    except SourceReadError as gone:
        assert "no longer exists" in gone.message and gone.transient is False
    else:
        raise AssertionError("a retry read a file that is gone")


def test_glob_recursive_folder_and_root_path(
    context: ConnectorContext, server: SftpServer
) -> None:
    for path in GLOB_TREE:
        server.write(path, "id\n1\n")
    check_glob_and_recursive(lambda auth, src: read(context, auth, src)[0],
                             server.password_auth(), server.password_auth(rootPath="/data/sub"))


def test_csv_json_and_parquet_keep_their_types(
    context: ConnectorContext, server: SftpServer
) -> None:
    auth = server.key_auth()
    check_csv_and_json_lines(server.write, lambda src: read(context, auth, src)[0], ";", False)
    buffer = io.BytesIO()
    moment = datetime(2024, 5, 1, 12, tzinfo=UTC)
    pq.write_table(pa.table({
        "id": pa.array([7], pa.int32()),
        "at": pa.array([moment], pa.timestamp("us", tz="UTC")),
    }), buffer)
    server.write("pq/a.parquet", buffer.getvalue())
    table, _ = read(context, auth, source("pq", "parquet"))
    assert table.schema.field("id").type == pa.int32()
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.column("at").to_pylist() == [moment]


def test_gzip_files(context: ConnectorContext, server: SftpServer) -> None:
    server.write("gz/a.csv.gz", gzip.compress(b"id,amount\n1,2.5\n2,3.5\n"))
    table, _ = read(context, server.password_auth(),
                    source("gz", properties={"compressionType": "gzip"}))
    assert table.column("amount").to_pylist() == [2.5, 3.5]


def test_limit_stops_after_that_many_rows(context: ConnectorContext, server: SftpServer) -> None:
    server.write("in/a.csv", "id\n" + "".join(f"{i}\n" for i in range(5)), mtime=T0)
    server.write("in/b.csv", "id\n" + "".join(f"{i}\n" for i in range(5, 10)), mtime=T0 + 1)
    table, opened = read(context, server.password_auth(), source("in"),
                         ReadRequest(window=None, limit=3))
    assert table.column("id").to_pylist() == [0, 1, 2]
    assert opened.progress.input_records == 3


def test_malformed_file_is_a_coded_terminal_error_leaving_no_connection(
    context: ConnectorContext, server: SftpServer
) -> None:
    server.write("bad/x.parquet", b"PAR1 not really parquet")
    server.write("bad/y.json", '{"id": 1}\n{"id": \n')
    auth = server.password_auth()
    for src, name in ((source("bad/x.parquet", "parquet"), "bad/x.parquet"),
                      (source("bad/y.json", "json"), "bad/y.json")):
        error = failure(context, auth, src)
        assert (error.code, error.transient) == (FILE_ERROR, False)
        assert f'"{name}"' in error.message
    assert no_connection_left(server)


@pytest.mark.parametrize("path", OUTSIDE_PATHS)
def test_dot_dot_paths_are_refused(
    context: ConnectorContext, server: SftpServer, path: str
) -> None:
    server.write("outside.csv", "id\n1\n")
    server.write("in/inside.csv", "id\n2\n")
    error = failure(context, server.password_auth(rootPath="/in"), source(path))
    assert (error.code, error.transient) == (FILE_ERROR, False)
    assert "must stay inside" in error.message


def test_wrong_password_is_terminal_and_not_echoed(
    context: ConnectorContext, server: SftpServer
) -> None:
    wrong = "Wrong-Pa55:" + PASSWORD
    error = failure(context, server.password_auth(password=wrong))
    assert (error.code, error.transient) == (SOURCE_ERROR, False)
    assert "refused the login" in error.message
    assert wrong not in error.message and PASSWORD not in error.message


def test_missing_root_path_is_terminal(context: ConnectorContext, server: SftpServer) -> None:
    error = failure(context, server.password_auth(rootPath="/no/such/folder"))
    assert (error.code, error.transient) == (SOURCE_ERROR, False)
    assert "/no/such/folder' does not exist" in error.message
    assert no_connection_left(server)


def test_unreachable_server_is_transient(context: ConnectorContext, server: SftpServer) -> None:
    error = failure(context, server.password_auth(port=closed_port()))
    assert (error.code, error.transient) == (SOURCE_ERROR, True)
    assert PASSWORD not in error.message


def test_metadata_host_is_refused_before_connecting(
    context: ConnectorContext, server: SftpServer
) -> None:
    error = failure(context, server.password_auth(host="169.254.169.254"))
    assert error.transient is False and "metadata" in error.message
    assert server.auth_attempts() == 0
