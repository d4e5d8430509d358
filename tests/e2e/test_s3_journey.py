"""File connectors end to end over HTTP against a real `sluice serve`: the shared journey
for Amazon S3 (a moto server on loopback) and for a local folder (zip archives), a malformed
file failing its run with the coded error and no Delta commit, and a missing bucket failing
the connection test."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from connector_journey import (
    WINDOW,
    WINDOW_START,
    Journey,
    check_malformed_file_fails_its_run,
    run_journey,
    upload_after,
)
from e2e_flows import create_connection
from processes import ServerProcess, client_for, unique_name

from support.s3_server import S3Server

pytestmark = pytest.mark.e2e

S3_SPEC = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
LOCAL_FILES_SPEC = "bc3ffdcf-1b46-41ec-b156-a8c195929f8a"
S3_AUTH_NAME = "Access Key Authentication"


def test_s3_journey(server: ServerProcess, s3: S3Server) -> None:
    name = unique_name("e2e_s3")
    bucket = s3.new_bucket("journey")
    old = s3.put(bucket, "in/orders-1.csv", "id,amount,city\n1,1.50,Lyon\n")
    later = "id,amount,city\n2,2.50,Nantes\n3,3.50,\"Saint-Denis, Réunion\"\n"
    new = upload_after(lambda: s3.put(bucket, "in/orders-2.csv", later), old)
    s3.put(bucket, "in/notes.txt", "not selected")
    journey = Journey(
        name=name,
        connection_spec_id=S3_SPEC,
        auth={"specName": S3_AUTH_NAME, "params": s3.auth(bucketName=bucket)},
        explore=[("root", None), ("folder", "in")],
        preview={"objectType": "file", "object": "in/orders-2.csv", "fileType": "delimited"},
        source={"data": {"format": "delimited", "columnDelimiter": ","},
                "params": {"path": "in/*.csv"}},
        file_source=True,
        window=(int(new), int(new) + 60),  # orders-1.csv, uploaded earlier, lies before it
    )
    with client_for(server) as client:
        result = run_journey(client, server.data_dir, journey)

    assert [(i["type"], i["name"]) for i in result.listings[0]] == [("folder", "in")]
    assert sorted(i["path"] for i in result.listings[1]) == [
        "in/notes.txt", "in/orders-1.csv", "in/orders-2.csv"]
    columns = result.preview["schema"]["columns"]  # the reader's file tag is not shown
    assert columns == [
        {"name": "id", "type": "long"}, {"name": "amount", "type": "double"},
        {"name": "city", "type": "string"}]
    assert [row["id"] for row in result.preview["data"]] == [2, 3]
    assert result.run["metrics"]["fileSummary"]["inputFileCount"] == 1
    rows = result.rows.sort_by("id")
    assert rows["id"].to_pylist() == [2, 3]
    assert rows["city"].to_pylist() == ["Nantes", "Saint-Denis, Réunion"]


def zip_of(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


def test_local_folder_journey_with_zip_archives(server: ServerProcess, files_root: Path) -> None:
    name = unique_name("e2e_local")
    folder = files_root / name
    (folder / "drop").mkdir(parents=True)
    for archive, mtime, members in (
        ("early.zip", WINDOW_START - 1, {"a.csv": "id,day\n1,0\n"}),
        ("day.zip", WINDOW_START + 10, {"b.csv": "id,day\n2,1\n", "a.csv": "id,day\n3,1\n"}),
    ):
        path = folder / "drop" / archive
        path.write_bytes(zip_of(members))
        os.utime(path, (mtime, mtime))
    zipped = {"compressionType": "zipDeflate"}
    journey = Journey(
        name=name,
        connection_spec_id=LOCAL_FILES_SPEC,
        auth={"specName": "Local Folder Authentication", "params": {"rootPath": str(folder)}},
        explore=[("root", None), ("folder", "drop")],
        preview={"objectType": "file", "object": "drop/day.zip", "fileType": "delimited",
                 **zipped},
        source={"data": {"format": "delimited", "properties": zipped},
                "params": {"path": "drop/*.zip"}},
        file_source=True,
        window=WINDOW,
    )
    with client_for(server) as client:
        result = run_journey(client, server.data_dir, journey)

    assert [i["path"] for i in result.listings[1]] == ["drop/day.zip", "drop/early.zip"]
    assert [row["id"] for row in result.preview["data"]] == [3, 2]  # members in name order
    assert sorted(result.rows["id"].to_pylist()) == [2, 3]


def test_malformed_file_fails_the_run_with_its_code_and_commits_nothing(
    server: ServerProcess, s3: S3Server
) -> None:
    name = unique_name("e2e_s3_bad")
    bucket = s3.new_bucket("malformed")
    modified = s3.put(bucket, "in/broken.parquet", b"PAR1 this is not a parquet file")
    auth = {"specName": S3_AUTH_NAME, "params": s3.auth(bucketName=bucket)}
    check_malformed_file_fails_its_run(server, name, S3_SPEC, auth, modified, s3.secret_key)


def test_missing_bucket_fails_the_connection_test(server: ServerProcess, s3: S3Server) -> None:
    with client_for(server) as client:
        connection = create_connection(client, unique_name("e2e_s3_missing"), S3_SPEC, {
            "specName": S3_AUTH_NAME,
            "params": s3.auth(bucketName=unique_name("missing").replace("_", "-"))})
        tested = client.get(f"connections/{connection}/test")
    assert tested["result"] is False
    assert "does not exist" in tested["message"]
    assert s3.secret_key not in tested["message"]
