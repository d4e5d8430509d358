"""The files reader on a real S3-compatible server (moto, on loopback): windows by
LastModified, globs and `recursive`, listing, and every failure's code and transience."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import SourceReadError
from sluice.connectors.files.s3 import CONNECTOR
from sluice.connectors.reading import ReadRequest, SourceFile
from sluice.domain.windows import Window
from support.connector_reads import (
    FILE_ERROR,
    GLOB_TREE,
    OUTSIDE_PATHS,
    SOURCE_ERROR,
    check_glob_and_recursive,
    closed_port,
    file_reads,
    file_source,
    files_of,
    read_all,
)
from support.s3_server import S3Server

read, failure = file_reads(CONNECTOR.read)
source = file_source


@pytest.fixture
def bucket(s3: S3Server) -> str:
    return s3.new_bucket("reader")


def test_window_selects_objects_by_last_modified(
    context: ConnectorContext, s3: S3Server, bucket: str
) -> None:
    first = s3.put(bucket, "in/a.csv", "id,name\n1,a\n")
    second = s3.put(bucket, "in/b.csv", "id,name\n2,b\n")
    auth = s3.auth(bucketName=bucket)
    table, opened = read(context, auth, source("in/*.csv"), ReadRequest(Window(first, first + 1)))
    expected = ["in/a.csv"] if second >= first + 1 else ["in/a.csv", "in/b.csv"]
    assert files_of(table) == expected
    assert opened.progress.files[0] == SourceFile("in/a.csv", 12, first)
    before, _ = read(context, auth, source("in/*.csv"), ReadRequest(Window(first - 60, first)))
    assert before.num_rows == 0
    everything, _ = read(context, auth, source("in"), ReadRequest(Window(first, second + 1)))
    assert everything.column("id").to_pylist() == [1, 2]


def test_a_retry_rereads_the_listed_objects(
    context: ConnectorContext, s3: S3Server, bucket: str
) -> None:
    s3.put(bucket, "x/one.csv", "v\n1\n")
    auth = s3.auth(bucketName=bucket)
    first, opened = read(context, auth, source("x/*.csv"))
    retry = ReadRequest(window=Window(0, 1), files=tuple(opened.progress.files))
    again, _ = read(context, auth, source("x/*.csv"), retry)
    assert again.to_pylist() == first.to_pylist()
    s3.client().delete_object(Bucket=bucket, Key="x/one.csv")
    with pytest.raises(SourceReadError, match="no longer exists"):
        CONNECTOR.read(context, auth, source("x/*.csv"), retry)


def test_glob_recursive_folder_and_root(
    context: ConnectorContext, s3: S3Server, bucket: str
) -> None:
    for key in GLOB_TREE:
        s3.put(bucket, key, "id\n1\n")
    check_glob_and_recursive(lambda auth, src: read(context, auth, src)[0],
                             s3.auth(bucketName=bucket),
                             s3.auth(bucketName=bucket, folderPath="data/sub"))
    # No bucket in the connection: the path starts with the bucket.
    unscoped = s3.auth()
    assert files_of(read(context, unscoped, source(f"{bucket}/top.csv"))[0]) == [
        f"{bucket}/top.csv"]


def test_compressed_and_archived_objects(
    context: ConnectorContext, s3: S3Server, bucket: str
) -> None:
    s3.put(bucket, "gz/a.csv.gz", gzip.compress(b"id,amount\n1,2.5\n"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("2.csv", "id,amount\n3,4.5\n")
        archive.writestr("1.csv", "id,amount\n2,3.5\n")
    s3.put(bucket, "zip/both.zip", buffer.getvalue())
    auth = s3.auth(bucketName=bucket)
    table, _ = read(context, auth, source("gz", properties={"compressionType": "gzip"}))
    assert table.column("amount").to_pylist() == [2.5]
    table, _ = read(context, auth, source("zip", properties={"compressionType": "zipDeflate"}))
    assert table.column("id").to_pylist() == [2, 3]


def test_malformed_object_is_a_coded_terminal_error(
    context: ConnectorContext, s3: S3Server, bucket: str
) -> None:
    s3.put(bucket, "bad/x.parquet", b"PAR1 not really parquet")
    error = failure(context, s3.auth(bucketName=bucket), source("bad", "parquet"))
    assert (error.code, error.transient) == (FILE_ERROR, False)
    assert '"bad/x.parquet"' in error.message


def test_missing_bucket_is_terminal(context: ConnectorContext, s3: S3Server) -> None:
    error = failure(context, s3.auth(bucketName="no-such-bucket-for-sluice"))
    assert (error.code, error.transient) == (SOURCE_ERROR, False)
    assert "s3://no-such-bucket-for-sluice" in error.message
    assert "does not exist" in error.message


def test_wrong_keys_are_terminal_and_not_echoed(
    context: ConnectorContext, s3: S3Server, bucket: str
) -> None:
    wrong_secret = "Wrong-S3cret/Key+Value"
    for auth in (s3.auth(bucketName=bucket, s3SecretKey=wrong_secret),
                 s3.auth(bucketName=bucket, s3AccessKey="AKIANOSUCHKEY0000000")):
        error = failure(context, auth)
        assert (error.code, error.transient) == (SOURCE_ERROR, False)
        assert "denied" in error.message
        assert wrong_secret not in error.message and s3.secret_key not in error.message


def test_unreachable_endpoint_is_transient(context: ConnectorContext, s3: S3Server) -> None:
    error = failure(context, s3.auth(bucketName="any-bucket",
                                     endpointUrl=f"http://127.0.0.1:{closed_port()}"))
    assert error.transient is True
    assert s3.secret_key not in error.message


def test_metadata_endpoint_is_refused_before_any_request(
    context: ConnectorContext, s3: S3Server
) -> None:
    error = failure(context, s3.auth(endpointUrl="http://169.254.169.254/"))
    assert error.transient is False
    assert "metadata" in error.message


@pytest.mark.parametrize("path", OUTSIDE_PATHS)
def test_dot_dot_paths_are_refused(
    context: ConnectorContext, s3: S3Server, bucket: str, path: str
) -> None:
    error = failure(context, s3.auth(bucketName=bucket, folderPath="in"), source(path))
    assert (error.code, error.transient) == (FILE_ERROR, False)
    retry = ReadRequest(window=None, files=(SourceFile("../secret.csv", 1, 0.0),))
    with pytest.raises(SourceReadError, match="must stay inside"):
        CONNECTOR.read(context, s3.auth(bucketName=bucket), source("*.csv"), retry)


def test_keys_with_dot_dot_segments_are_skipped(
    context: ConnectorContext, s3: S3Server, bucket: str
) -> None:
    s3.put(bucket, "in/ok.csv", "id\n1\n")
    s3.put(bucket, "in/../escape.csv", "id\n2\n")
    table, _ = read(context, s3.auth(bucketName=bucket), source("in", recursive=True))
    assert table.column("id").to_pylist() == [1]


def test_listing_folders_and_files(context: ConnectorContext, s3: S3Server, bucket: str) -> None:
    modified = s3.put(bucket, "in/a.csv", "id\n1\n")
    s3.put(bucket, "in/deeper/b.csv", "id\n2\n")
    s3.put(bucket, "in/.hidden", "x")
    auth = s3.auth(bucketName=bucket)
    root = CONNECTOR.explore(context, auth, "root", None)
    assert [(i.type, i.path) for i in root] == [("folder", "in")]
    inside = CONNECTOR.explore(context, auth, "folder", "in")
    assert [(i.type, i.name, i.path) for i in inside] == [
        ("folder", "deeper", "in/deeper"), ("file", "a.csv", "in/a.csv")]
    assert inside[1].size == 5 and inside[1].modified_at == modified
    assert inside[1].can_preview


def test_preview_reads_only_the_first_rows(
    context: ConnectorContext, s3: S3Server, bucket: str
) -> None:
    s3.put(bucket, "big.csv", "id\n" + "".join(f"{i}\n" for i in range(5000)))
    table, _ = read(context, s3.auth(bucketName=bucket), source("big.csv"),
                    ReadRequest(window=None, limit=7))
    assert table.column("id").to_pylist() == list(range(7))


def test_local_and_s3_give_the_same_rows(
    context: ConnectorContext, s3: S3Server, bucket: str, allowed_root: Path
) -> None:
    content = 'id,when,note\n1,2024-01-02,"a, b"\n2,2024-01-03,\n'
    s3.put(bucket, "same.csv", content)
    (allowed_root / "same.csv").write_text(content)
    from sluice.connectors.files.local import CONNECTOR as LOCAL_FILES

    local_source = LOCAL_FILES.read

    remote, _ = read(context, s3.auth(bucketName=bucket), source("same.csv"))
    local, _ = read_all(local_source(context, {"rootPath": str(allowed_root)},
                                     source("same.csv"), ReadRequest(None)))
    assert remote.equals(local)
