"""SFTP and Azure Blob Storage end to end over HTTP against a real `sluice serve`: the shared
journey against an SSH server and an Azurite emulator on loopback; a wrong password and a
missing container failing the connection test without echoing a secret; a malformed blob
failing its run with the coded error and no Delta commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from connector_journey import (
    DAY,
    WINDOW,
    WINDOW_START,
    Journey,
    check_malformed_file_fails_its_run,
    run_journey,
    upload_after,
)
from e2e_flows import create_connection
from processes import ServerProcess, client_for, unique_name

from support.azurite import Azurite
from support.sftp_server import PASSWORD, SftpServer, running_sftp_server

pytestmark = pytest.mark.e2e

SFTP_SPEC = "e9572be9-2343-492c-84d9-cef0a02facbd"
AZURE_BLOB_SPEC = "4c10e202-c428-4796-9208-5f1f5732b1cf"


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[SftpServer]:
    with running_sftp_server(tmp_path / "sftp") as running:
        yield running


def test_sftp_journey(server: ServerProcess, sftp: SftpServer) -> None:
    name = unique_name("e2e_sftp")
    for path, mtime, content in (
        ("drop/early.csv", WINDOW_START - 1, "id,amount,city\n1,1.50,Lyon\n"),
        ("drop/orders.csv", WINDOW_START, "id,amount,city\n2,2.50,Nantes\n"
                                          "3,3.50,\"Saint-Denis, Réunion\"\n"),
        ("drop/sub/late.csv", WINDOW_START + DAY - 1, "id,amount,city\n4,4.50,Brest\n"),
        ("drop/next-day.csv", WINDOW_START + DAY, "id,amount,city\n5,5.50,Metz\n"),
    ):
        sftp.write(f"home/{path}", content, mtime=mtime)
    auth = sftp.key_auth(rootPath="/home", hostKeyFingerprint=sftp.host_key_fingerprint)
    journey = Journey(
        name=name,
        connection_spec_id=SFTP_SPEC,
        auth={"specName": "SSH Public Key Authentication for SFTP", "params": auth},
        explore=[("root", None), ("folder", "drop")],
        preview={"objectType": "file", "object": "drop/orders.csv", "fileType": "delimited"},
        source={"data": {"format": "delimited"},
                "params": {"path": "drop/*.csv", "recursive": True}},
        file_source=True,
        window=WINDOW,
    )
    with client_for(server) as client:
        result = run_journey(client, server.data_dir, journey)

    assert [(i["type"], i["path"]) for i in result.listings[0]] == [("folder", "drop")]
    assert [(i["type"], i["path"]) for i in result.listings[1]] == [
        ("folder", "drop/sub"), ("file", "drop/early.csv"), ("file", "drop/next-day.csv"),
        ("file", "drop/orders.csv")]
    columns = result.preview["schema"]["columns"]  # the reader's file tag is not shown
    assert columns == [{"name": "id", "type": "long"}, {"name": "amount", "type": "double"},
                       {"name": "city", "type": "string"}]
    assert [row["id"] for row in result.preview["data"]] == [2, 3]
    assert result.run["metrics"]["fileSummary"]["inputFileCount"] == 2
    rows = result.rows.sort_by("id")
    assert rows["id"].to_pylist() == [2, 3, 4]
    assert rows["city"].to_pylist() == ["Nantes", "Saint-Denis, Réunion", "Brest"]


def test_azure_blob_journey(server: ServerProcess, azurite: Azurite) -> None:
    name = unique_name("e2e_azure")
    container = azurite.new_container("journey")
    old = azurite.upload(container, "events/day-1.json", '{"id": 1, "kind": "old"}\n')
    later = '{"id": 2, "kind": "click"}\n{"id": 3, "kind": "view"}\n'
    new = upload_after(lambda: azurite.upload(container, "events/day-2.json", later), old)
    journey = Journey(
        name=name,
        connection_spec_id=AZURE_BLOB_SPEC,
        auth={"specName": "Connection String Authentication",
              "params": azurite.connection_string_auth(container=container)},
        explore=[("root", None), ("folder", "events")],
        preview={"objectType": "file", "object": "events/day-2.json", "fileType": "json"},
        source={"data": {"format": "json"}, "params": {"path": "events"}},
        file_source=True,
        window=(int(new), int(new) + 60),  # day-1.json, uploaded earlier, lies before it
    )
    with client_for(server) as client:
        result = run_journey(client, server.data_dir, journey)

    assert [(i["type"], i["name"]) for i in result.listings[0]] == [("folder", "events")]
    assert [i["path"] for i in result.listings[1]] == ["events/day-1.json", "events/day-2.json"]
    assert [row["kind"] for row in result.preview["data"]] == ["click", "view"]
    assert result.run["metrics"]["fileSummary"]["inputFileCount"] == 1
    assert result.rows.sort_by("id")["kind"].to_pylist() == ["click", "view"]


def test_wrong_password_and_missing_container_fail_the_connection_test(
    server: ServerProcess, sftp: SftpServer, azurite: Azurite
) -> None:
    wrong = "Wrong-" + PASSWORD
    missing = azurite.new_container("gone") + "-x"
    with client_for(server) as client:
        by_password = create_connection(client, unique_name("e2e_sftp_bad"), SFTP_SPEC, {
            "specName": "Basic Authentication for SFTP",
            "params": sftp.password_auth(password=wrong)})
        without_container = create_connection(client, unique_name("e2e_azure_gone"),
                                               AZURE_BLOB_SPEC, {
            "specName": "Account Key Authentication",
            "params": azurite.account_key_auth(container=missing)})
        refused = client.get(f"connections/{by_password}/test")
        gone = client.get(f"connections/{without_container}/test")
    assert refused["result"] is False and "refused the login" in refused["message"]
    assert wrong not in str(refused)
    assert gone["result"] is False
    assert f"The container {missing!r} does not exist" in gone["message"]
    assert azurite.account_key not in str(gone)


def test_malformed_blob_fails_the_run_with_its_code_and_commits_nothing(
    server: ServerProcess, azurite: Azurite
) -> None:
    name = unique_name("e2e_azure_bad")
    container = azurite.new_container("malformed")
    modified = azurite.upload(container, "in/broken.parquet", b"PAR1 not a parquet file")
    auth = {"specName": "Account Key Authentication",
            "params": azurite.account_key_auth(container=container)}
    check_malformed_file_fails_its_run(server, name, AZURE_BLOB_SPEC, auth, modified,
                                       azurite.account_key)
