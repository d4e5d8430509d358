"""The Azure Blob Storage connection spec against a real emulator (Azurite) on loopback:
both ways to authenticate, the container and folder root, the host guard, and listing."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft7Validator

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, ExploreError
from sluice.connectors.files.azure_blob import CONNECTOR, SPEC
from sluice.connectors.files.azure_blob_spec import ACCOUNT_KEY_AUTH, CONNECTION_STRING_AUTH
from sluice.connectors.host_guard import HostRefusedError
from sluice.connectors.registry import find_spec
from support.azurite import Azurite
from support.net import closed_port

# A key of the right shape that is not the account's.
WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3Jvbmc="


@pytest.fixture
def container(azurite: Azurite) -> str:
    return azurite.new_container("spec")


def verdict(context: ConnectorContext, auth: dict[str, Any]) -> str:
    with pytest.raises(ConnectionTestFailed) as caught:
        CONNECTOR.test(context, auth)
    return str(caught.value)


def test_the_spec_keeps_the_reference_id_and_masks_its_secrets() -> None:
    assert SPEC.id == "4c10e202-c428-4796-9208-5f1f5732b1cf"
    assert find_spec(SPEC.id) is SPEC
    assert SPEC.category == "cloudStorage" and SPEC.source_kind == "file"
    assert [a.name for a in SPEC.auth_specs] == [
        "Connection String Authentication", "Account Key Authentication"]
    assert CONNECTION_STRING_AUTH.secret_fields == {"connectionString"}
    assert ACCOUNT_KEY_AUTH.secret_fields == {"accountKey"}


def test_auth_schemas_accept_the_documented_params_and_refuse_others() -> None:
    by_string = Draft7Validator(CONNECTION_STRING_AUTH.schema)
    assert by_string.is_valid({"connectionString": "x", "container": "in-box",
                               "folderPath": "2024/05"})
    assert not by_string.is_valid({"connectionString": "x", "container": "No_Caps"})
    assert not by_string.is_valid({"connectionString": "x", "container": "ok",
                                   "folderPath": "a/../b"})
    by_key = Draft7Validator(ACCOUNT_KEY_AUTH.schema)
    assert by_key.is_valid({"accountName": "acct1", "accountKey": WRONG_KEY,
                            "blobEndpoint": "https://acct1.blob.core.chinacloudapi.cn"})
    assert not by_key.is_valid({"accountName": "acct1"})  # no key
    assert not by_key.is_valid({"accountName": "acct1", "accountKey": "k;BlobEndpoint=x"})
    assert not by_key.is_valid({"accountName": "acct1", "accountKey": WRONG_KEY,
                                "blobEndpoint": "http://h/;AccountKey=x"})


def test_right_credentials_pass_both_ways(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    azurite.upload(container, "in/a.csv", "id\n1\n")
    CONNECTOR.test(context, azurite.connection_string_auth())
    CONNECTOR.test(context, azurite.connection_string_auth(container=container))
    CONNECTOR.test(context, azurite.account_key_auth())
    CONNECTOR.test(context, azurite.account_key_auth(container=container, folderPath="in"))
    assert "refused the credentials" in verdict(
        context, azurite.account_key_auth(accountKey=WRONG_KEY, container=container))


def test_wrong_key_fails_without_naming_it(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    for auth in (azurite.account_key_auth(accountKey=WRONG_KEY, container=container),
                 azurite.account_key_auth(accountKey=WRONG_KEY),
                 azurite.connection_string_auth(connectionString=azurite.connection_string
                                                 .replace(azurite.account_key, WRONG_KEY))):
        message = verdict(context, auth)
        assert "refused the credentials (AuthorizationFailure)" in message
        assert WRONG_KEY not in message and azurite.account_key not in message


def test_a_malformed_connection_string_is_not_echoed(context: ConnectorContext) -> None:
    secret = "AccountKey=Sup3r-Secret-Value"
    message = verdict(context, {"connectionString": f"this is not one {secret}"})
    assert "not an Azure Storage connection string" in message
    assert secret not in message


def test_unreachable_endpoint_fails(context: ConnectorContext, azurite: Azurite) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}/{azurite.account_name}"
    message = verdict(context, azurite.account_key_auth(blobEndpoint=endpoint))
    assert "could not be reached" in message and azurite.account_key not in message


def test_missing_container_and_folder_fail(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    missing = f"{container}-gone"
    message = verdict(context, azurite.connection_string_auth(container=missing))
    assert message == (f"The container {missing!r} does not exist in"
                       f" {azurite.blob_endpoint}.")
    message = verdict(context, azurite.connection_string_auth(container=container,
                                                               folderPath="nope/deeper"))
    assert f"{container}/nope/deeper' does not exist" in message
    assert "needs a container" in verdict(context, azurite.account_key_auth(folderPath="in"))


def test_metadata_endpoint_is_refused_before_any_request(
    context: ConnectorContext, azurite: Azurite
) -> None:
    with pytest.raises(HostRefusedError, match="metadata"):
        CONNECTOR.test(context, azurite.account_key_auth(
            blobEndpoint="http://169.254.169.254/devstoreaccount1"))
    string = azurite.connection_string.replace(
        f"{azurite.host}:{azurite.port}", "169.254.169.254")
    with pytest.raises(HostRefusedError, match="metadata"):
        CONNECTOR.test(context, {"connectionString": string})


def test_listing_containers_folders_and_files(
    context: ConnectorContext, azurite: Azurite, container: str
) -> None:
    modified = azurite.upload(container, "in/a.csv", "id\n1\n")
    azurite.upload(container, "in/deeper/b.csv", "id\n2\n")
    azurite.upload(container, "in/.partial", "x")
    whole_account = CONNECTOR.explore(context, azurite.connection_string_auth(), "root", None)
    assert ("folder", container, container) in [(i.type, i.name, i.path) for i in whole_account]
    auth = azurite.account_key_auth(container=container)
    assert [(i.type, i.path) for i in CONNECTOR.explore(context, auth, "root", None)] == [
        ("folder", "in")]
    inside = CONNECTOR.explore(context, auth, "folder", "in")
    assert [(i.type, i.name, i.path) for i in inside] == [
        ("folder", "deeper", "in/deeper"), ("file", "a.csv", "in/a.csv")]
    assert inside[1].size == 5 and inside[1].modified_at == modified
    scoped = azurite.account_key_auth(container=container, folderPath="in/deeper")
    assert [i.path for i in CONNECTOR.explore(context, scoped, "root", None)] == ["b.csv"]
    with pytest.raises(ExploreError, match="does not exist"):
        CONNECTOR.explore(context, auth, "folder", "nope")
    with pytest.raises(ExploreError, match="inside the connection's folder"):
        CONNECTOR.explore(context, auth, "folder", "../other")


def test_validate_auth_checks_what_it_can_without_a_request(
    context: ConnectorContext, azurite: Azurite
) -> None:
    CONNECTOR.validate_auth(context, azurite.connection_string_auth(container="any-name"))
    with pytest.raises(HostRefusedError):
        CONNECTOR.validate_auth(context, azurite.account_key_auth(
            blobEndpoint="http://169.254.169.254/devstoreaccount1"))
    with pytest.raises(ConnectionTestFailed, match="not an Azure Storage connection string"):
        CONNECTOR.validate_auth(context, {"connectionString": "nonsense"})
    with pytest.raises(ConnectionTestFailed, match="needs a container"):
        CONNECTOR.validate_auth(context, azurite.account_key_auth(folderPath="in"))
