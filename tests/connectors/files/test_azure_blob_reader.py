"""The files reader over Azure Blob Storage, against a real emulator (Azurite) on loopback:
windows by Last-Modified, globs and `recursive`, formats and compression, limits, retries,
and every failure's code and transience."""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import SourceReadError
from sluice.connectors.files.azure_blob import CONNECTOR
from sluice.connectors.reading import SOURCE_FILE_COLUMN, ReadRequest, SourceFile
from sluice.domain.windows import Window
from support.azurite import Azurite
from support.connector_reads import (
    FILE_ERROR,
    GLOB_TREE,
    OUTSIDE_PATHS,
    SOURCE_ERROR,
    check_csv_and_json_lines,
    check_glob_and_recursive,
    closed_port,
    file_reads,
    file_source,
    files_of,
)

WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3Jvbmc="

read, failure = file_reads(CONNECTOR.read)
source = file_source


@pytest.fixture
def container(azurite: Azurite) -> str:
    return azurite.new_container("reader")


def test_window_is_half_open_on_last_modified(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    # The server sets Last-Modified (whole seconds): windows are chosen around it.
    modified = azurite.upload(container, "in/a.csv", "id\n1\n")
    assert modified == int(modified)
    at = int(modified)
    auth = azurite.connection_string_auth(container=container)

    def selected(window: Window) -> list[SourceFile]:
        _, opened = read(context, auth, source("in"), ReadRequest(window=window))
        return list(opened.progress.files)

    assert selected(Window(at, at + 1)) == [SourceFile("in/a.csv", 5, float(at))]
    assert selected(Window(at - 60, at)) == []  # the end is excluded
    assert selected(Window(at + 1, at + 60)) == []


def test_a_retry_reads_exactly_the_original_files(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    modified = azurite.upload(container, "x/one.csv", "id\n1\n")
    auth = azurite.account_key_auth(container=container)
    window = Window(int(modified), int(modified) + 1)
    first, opened = read(context, auth, source("x/*.csv"), ReadRequest(window=window))
    azurite.upload(container, "x/two.csv", "id\n2\n")  # may share the second: not read
    retry = ReadRequest(window=window, files=tuple(opened.progress.files))
    again, _ = read(context, auth, source("x/*.csv"), retry)
    assert again.to_pylist() == first.to_pylist() == [
        {"id": 1, SOURCE_FILE_COLUMN: "x/one.csv"}]
    azurite.client().get_blob_client(container, "x/one.csv").delete_blob()
    with pytest.raises(SourceReadError, match="no longer exists"):
        CONNECTOR.read(context, auth, source("x/*.csv"), retry)


def test_glob_recursive_folder_and_root(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    for name in GLOB_TREE:
        azurite.upload(container, name, "id\n1\n")
    check_glob_and_recursive(
        lambda auth, src: read(context, auth, src)[0],
        azurite.connection_string_auth(container=container),
        azurite.connection_string_auth(container=container, folderPath="data/sub"))
    # No container in the connection: the path starts with the container.
    whole_account = azurite.connection_string_auth()
    assert files_of(read(context, whole_account, source(f"{container}/top.csv"))[0]) == [
        f"{container}/top.csv"]


def test_csv_json_and_parquet_keep_their_types(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    auth = azurite.account_key_auth(container=container)
    check_csv_and_json_lines(lambda name, body: azurite.upload(container, name, body),
                             lambda src: read(context, auth, src)[0], "|", None)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([7], pa.int16()),
                             "price": pa.array([1.25], pa.float32())}), buffer)
    azurite.upload(container, "pq/a.parquet", buffer.getvalue())
    table, _ = read(context, auth, source("pq", "parquet"))
    assert table.schema.field("id").type == pa.int16()
    assert table.schema.field("price").type == pa.float32()
    assert table.select(["id", "price"]).to_pylist() == [{"id": 7, "price": 1.25}]


def test_gzip_blobs(context: ConnectorContext, azurite: Azurite, container: str) -> None:
    azurite.upload(container, "gz/a.json.gz", gzip.compress(b'{"n": 1}\n{"n": 2}\n'))
    table, _ = read(context, azurite.connection_string_auth(container=container),
                    source("gz", "json", properties={"compressionType": "gzip"}))
    assert table.column("n").to_pylist() == [1, 2]


def test_limit_stops_after_that_many_rows(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    azurite.upload(container, "in/a.csv", "id\n" + "".join(f"{i}\n" for i in range(50)))
    table, opened = read(context, azurite.connection_string_auth(container=container),
                         source("in"), ReadRequest(window=None, limit=7))
    assert table.column("id").to_pylist() == list(range(7))
    assert opened.progress.input_records == 7


def test_malformed_blob_is_a_coded_terminal_error(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    azurite.upload(container, "bad/x.parquet", b"PAR1 not really parquet")
    azurite.upload(container, "bad/y.csv.gz", b"\x1f\x8b not really gzip")
    auth = azurite.connection_string_auth(container=container)
    for src, name in ((source("bad/x.parquet", "parquet"), "bad/x.parquet"),
                      (source("bad/y.csv.gz", properties={"compressionType": "gzip"}),
                       "bad/y.csv.gz")):
        error = failure(context, auth, src)
        assert (error.code, error.transient) == (FILE_ERROR, False)
        assert f'"{name}"' in error.message


@pytest.mark.parametrize("path", OUTSIDE_PATHS)
def test_dot_dot_paths_are_refused(
    context: ConnectorContext, azurite: Azurite, container: str, path: str
) -> None:
    azurite.upload(container, "in/a.csv", "id\n1\n")
    auth = azurite.connection_string_auth(container=container, folderPath="in")
    error = failure(context, auth, source(path))
    assert (error.code, error.transient) == (FILE_ERROR, False)
    assert "must stay inside" in error.message


def test_missing_container_is_terminal(context: ConnectorContext, azurite: Azurite) -> None:
    error = failure(context, azurite.connection_string_auth(container="no-such-container"))
    assert (error.code, error.transient) == (SOURCE_ERROR, False)
    assert "'no-such-container' does not exist" in error.message


def test_wrong_key_is_terminal_and_not_echoed(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    error = failure(context, azurite.account_key_auth(container=container,
                                                       accountKey=WRONG_KEY))
    assert (error.code, error.transient) == (SOURCE_ERROR, False)
    assert "refused the credentials" in error.message
    assert WRONG_KEY not in error.message and azurite.account_key not in error.message


def test_unreachable_endpoint_is_transient(context: ConnectorContext, azurite: Azurite) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}/{azurite.account_name}"
    error = failure(context, azurite.account_key_auth(blobEndpoint=endpoint,
                                                       container="any-container"))
    assert (error.code, error.transient) == (SOURCE_ERROR, True)
    assert azurite.account_key not in error.message


def test_metadata_endpoint_is_refused(context: ConnectorContext, azurite: Azurite) -> None:
    error = failure(context, azurite.account_key_auth(
        blobEndpoint="http://169.254.169.254/devstoreaccount1"))
    assert error.transient is False and "metadata" in error.message
