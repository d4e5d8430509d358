"""The SFTP connection spec against a real SSH server on loopback: login by password and by
key, host key pinning, the host guard, the root folder, and listing for explore."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, ExploreError
from sluice.connectors.files.sftp import CONNECTOR, SPEC
from sluice.connectors.files.sftp_spec import BASIC_AUTH, PUBLIC_KEY_AUTH
from sluice.connectors.host_guard import HostRefusedError
from sluice.connectors.registry import find_spec
from support.net import closed_port
from support.sftp_server import KEY_PASSPHRASE, PASSWORD, SftpServer, running_sftp_server

T0 = 1_700_000_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SftpServer]:
    with running_sftp_server(tmp_path / "sftp") as running:
        yield running


def verdict(context: ConnectorContext, auth: dict[str, Any]) -> str:
    """The failed test's message. (Not pytest.raises: its ExceptionInfo, kept in this frame,
    would hold the failure's traceback in a cycle, and the connection with it.)"""
    try:
        CONNECTOR.test(context, auth)
    except ConnectionTestFailed as error:
        return str(error)
    raise AssertionError("the connection test passed")


def no_connection_left(server: SftpServer) -> bool:
    """Whether the server's connections all close (the server notices a close a moment
    after the client sends it), without waiting for the garbage collector."""
    for _ in range(200):
        if server.open_connections() == 0:
            return True
        time.sleep(0.05)
    return False


def test_the_spec_is_registered_with_its_secrets_masked() -> None:
    assert find_spec(SPEC.id) is SPEC
    assert SPEC.category == "cloudStorage" and SPEC.source_kind == "file"
    assert [a.name for a in SPEC.auth_specs] == [
        "Basic Authentication for SFTP", "SSH Public Key Authentication for SFTP"]
    assert BASIC_AUTH.secret_fields == {"password"}
    assert PUBLIC_KEY_AUTH.secret_fields == {"privateKeyContent", "passPhrase"}


def test_auth_schemas_accept_the_documented_params_and_refuse_others() -> None:
    basic = Draft7Validator(BASIC_AUTH.schema)
    assert basic.is_valid({"host": "sftp.example.com", "port": 2222, "username": "u",
                           "password": "p", "rootPath": "/data",
                           "hostKeyFingerprint": "SHA256:" + "A" * 43})
    assert not basic.is_valid({"host": "h", "username": "u"})  # no password
    assert not basic.is_valid({"host": "h", "username": "u", "password": "p", "port": 0})
    assert not basic.is_valid({"host": "h", "username": "u", "password": "p",
                               "hostKeyFingerprint": "MD5:aa:bb"})
    keyed = Draft7Validator(PUBLIC_KEY_AUTH.schema)
    assert keyed.is_valid({"host": "h", "username": "u", "privateKeyContent": "k",
                           "passPhrase": "x"})
    assert not keyed.is_valid({"host": "h", "username": "u", "password": "p"})


def test_right_password_passes(context: ConnectorContext, server: SftpServer) -> None:
    CONNECTOR.test(context, server.password_auth())
    assert no_connection_left(server)


def test_wrong_password_fails_without_naming_it_and_leaves_no_connection(
    context: ConnectorContext, server: SftpServer
) -> None:
    wrong = "Not-The-Pa55word:" + PASSWORD[::-1]
    message = verdict(context, server.password_auth(password=wrong))
    assert "refused the login of user 'sluice-test'" in message
    assert wrong not in message and PASSWORD not in message
    assert no_connection_left(server)


def test_unknown_user_fails(context: ConnectorContext, server: SftpServer) -> None:
    assert "refused the login of user 'nobody'" in verdict(
        context, server.password_auth(username="nobody"))


def test_unreachable_port_fails(context: ConnectorContext, server: SftpServer) -> None:
    message = verdict(context, server.password_auth(port=closed_port()))
    assert "could not be reached" in message and PASSWORD not in message


def test_metadata_address_is_refused_before_connecting(
    context: ConnectorContext, server: SftpServer
) -> None:
    with pytest.raises(HostRefusedError) as caught:
        CONNECTOR.test(context, server.password_auth(host="169.254.169.254"))
    assert "metadata" in str(caught.value)
    assert server.auth_attempts() == 0


def test_key_auth_passes_with_base64_or_pem_content(
    context: ConnectorContext, server: SftpServer
) -> None:
    CONNECTOR.test(context, server.key_auth())
    CONNECTOR.test(context, server.key_auth(privateKeyContent=server.client_key_pem))
    CONNECTOR.test(context, server.key_auth(privateKeyContent=server.client_key_encrypted_pem,
                                         passPhrase=KEY_PASSPHRASE))
    assert server.auth_attempts() == 3  # each logged in on the server
    assert "give its passPhrase" in verdict(  # the same encrypted key, without its passPhrase
        context, server.key_auth(privateKeyContent=server.client_key_encrypted_pem))


def test_a_key_the_server_does_not_know_is_refused(
    context: ConnectorContext, server: SftpServer, tmp_path: Path
) -> None:
    with running_sftp_server(tmp_path / "other") as other:  # its own, different client key
        message = verdict(context, server.key_auth(privateKeyContent=other.client_key_pem))
    assert "refused the login" in message
    assert "PRIVATE KEY" not in message


def test_unreadable_keys_fail_without_showing_the_key(
    context: ConnectorContext, server: SftpServer
) -> None:
    encrypted = server.client_key_encrypted_pem
    assert "give its passPhrase" in verdict(
        context, server.key_auth(privateKeyContent=encrypted))
    message = verdict(context, server.key_auth(privateKeyContent=encrypted,
                                               passPhrase="wrong-" + KEY_PASSPHRASE))
    assert "passPhrase is wrong" in message and KEY_PASSPHRASE not in message
    assert "not a private key" in verdict(
        context, server.key_auth(privateKeyContent="bm90IGEga2V5"))  # base64 of "not a key"
    assert "neither a PEM private key nor base64" in verdict(
        context, server.key_auth(privateKeyContent="%%% not base64 %%%"))
    assert server.auth_attempts() == 0


def test_the_pinned_host_key_passes(context: ConnectorContext, server: SftpServer) -> None:
    CONNECTOR.test(context, server.password_auth(hostKeyFingerprint=server.host_key_fingerprint))
    bare = server.host_key_fingerprint.removeprefix("SHA256:")
    CONNECTOR.test(context, server.password_auth(hostKeyFingerprint=bare))
    assert server.host_key_fingerprint in verdict(
        context, server.password_auth(hostKeyFingerprint="B" * 43))  # a wrong bare pin


def test_a_wrong_host_key_is_refused_before_any_credential_is_sent(
    context: ConnectorContext, server: SftpServer
) -> None:
    pinned = "SHA256:" + "B" * 43
    message = verdict(context, server.password_auth(hostKeyFingerprint=pinned))
    assert server.host_key_fingerprint in message and "hostKeyFingerprint" in message
    assert PASSWORD not in message
    assert server.auth_attempts() == 0
    assert no_connection_left(server)


def test_root_path_must_be_an_existing_folder(
    context: ConnectorContext, server: SftpServer
) -> None:
    server.write("data/in/a.csv", "id\n1\n")
    CONNECTOR.test(context, server.password_auth(rootPath="/data"))
    CONNECTOR.test(context, server.password_auth(rootPath="data/in"))  # relative to the home
    message = verdict(context, server.password_auth(rootPath="/missing"))
    assert message == f"The folder '/missing' does not exist on sftp://127.0.0.1:{server.port}."
    assert "is a file, not a folder" in verdict(
        context, server.password_auth(rootPath="/data/in/a.csv"))
    assert no_connection_left(server)


def test_listing_shows_folders_then_files_relative_to_the_root(
    context: ConnectorContext, server: SftpServer
) -> None:
    server.write("data/in/b.csv", "id\n1\n", mtime=T0)
    server.write("data/in/.partial.csv", "id\n")
    server.write("data/in/sub/c.csv", "id\n2\n")
    server.write("data/a.json", '{"id": 1}\n', mtime=T0 + 1)
    auth = server.password_auth(rootPath="/data")
    top = CONNECTOR.explore(context, auth, "root", None)
    assert [(i.type, i.name, i.path) for i in top] == [
        ("folder", "in", "in"), ("file", "a.json", "a.json")]
    inside = [i.to_wire() for i in CONNECTOR.explore(context, auth, "folder", "in")]
    assert inside == [
        {"type": "folder", "name": "sub", "path": "in/sub", "canPreview": False,
         "canFetchSchema": False},
        {"type": "file", "name": "b.csv", "path": "in/b.csv", "canPreview": True,
         "canFetchSchema": True, "size": 5, "lastModifiedTime": T0 * 1000},
    ]
    with pytest.raises(ExploreError, match="does not exist"):
        CONNECTOR.explore(context, auth, "folder", "nope")
    with pytest.raises(ExploreError, match="inside the connection's folder"):
        CONNECTOR.explore(context, auth, "folder", "../etc")
    assert no_connection_left(server)


def test_a_chrooted_server_lists_from_its_root(
    context: ConnectorContext, server: SftpServer
) -> None:
    server.write("in/a.csv", "id\n1\n")
    listed = CONNECTOR.explore(context, server.password_auth(), "folder", "/in")
    assert [(i.name, i.path) for i in listed] == [("a.csv", "in/a.csv")]


def test_validate_auth_checks_what_it_can_without_logging_in(
    context: ConnectorContext, server: SftpServer
) -> None:
    fingerprint = server.host_key_fingerprint
    CONNECTOR.validate_auth(context, server.key_auth(hostKeyFingerprint=fingerprint))
    with pytest.raises(HostRefusedError):
        CONNECTOR.validate_auth(context, server.password_auth(host="169.254.169.254"))
    with pytest.raises(ConnectionTestFailed, match="not a private key"):
        CONNECTOR.validate_auth(context, server.key_auth(privateKeyContent="bm90IGEga2V5"))
    assert server.auth_attempts() == 0 and server.open_connections() == 0
