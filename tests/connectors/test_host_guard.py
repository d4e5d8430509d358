"""The host guard: what a connection may not reach, what the operator may allow, and what
stays open (loopback and private networks, where on-premise sources live)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed
from sluice.connectors.host_guard import HostRefusedError, guard_host, guard_url

METADATA_URL = "postgresql+psycopg://postgres:meta-Pa55@127.0.0.1:5432/sluice_meta"


@pytest.fixture
def guarded(tmp_path: Path) -> ConnectorContext:
    return ConnectorContext(
        allowed_file_roots=(tmp_path,), lake_dir=tmp_path / "lake",
        metadata_database_url=METADATA_URL,
    )


def refusal(context: ConnectorContext, host: str, port: int | None = 443,
            database: str | None = None) -> str:
    with pytest.raises(HostRefusedError) as caught:
        guard_host(context, host, port, database)
    return str(caught.value)


@pytest.mark.parametrize("host", [
    "169.254.1.2", "fe80::1", "[fe80::1]", "fe80::1%lo", "::ffff:169.254.7.7",
])
def test_link_local_addresses_are_refused(guarded: ConnectorContext, host: str) -> None:
    message = refusal(guarded, host)
    assert "link-local" in message and "SLUICE_CONNECTOR_ALLOWED_HOSTS" in message


@pytest.mark.parametrize("host", [
    "169.254.169.254",
    "metadata.google.internal", "METADATA.google.internal.", "metadata",
    "::ffff:169.254.169.254",  # IPv4-mapped IPv6
    "::ffff:a9fe:a9fe",  # the same, in hex
    "2852039166", "0xa9fea9fe", "0251.0376.0251.0376",  # decimal, hex, octal IPv4 forms
    "64:ff9b::a9fe:a9fe",  # NAT64
    "2002:a9fe:a9fe::1",  # 6to4
    "fd00:ec2::254", "169.254.170.2", "100.100.100.200",
])
def test_cloud_metadata_endpoints_are_refused_in_every_spelling(
    guarded: ConnectorContext, host: str
) -> None:
    assert "cloud metadata endpoint" in refusal(guarded, host)


@pytest.mark.parametrize("host", ["0.0.0.0", "0", "::", "224.0.0.1", "ff02::1",
                                  "255.255.255.255"])
def test_addresses_that_are_no_server_are_refused(guarded: ConnectorContext, host: str) -> None:
    assert "not a server" in refusal(guarded, host)


def test_a_refusal_is_a_failed_connection_test() -> None:
    assert issubclass(HostRefusedError, ConnectionTestFailed)


def test_an_unusable_port_does_not_let_a_refused_host_through(
    guarded: ConnectorContext,
) -> None:
    # getaddrinfo refuses port -1; the guard must still see the address.
    assert "cloud metadata endpoint" in refusal(guarded, "169.254.169.254", -1)
    assert "cloud metadata endpoint" in refusal(guarded, "169.254.169.254", None)


def test_an_empty_host_is_refused(guarded: ConnectorContext) -> None:
    assert "names no host" in refusal(guarded, "  ")


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "fd12::1",
    "no-such-host.invalid",  # unknown names fail later, when connecting, with their own message
])
def test_loopback_private_and_unknown_hosts_are_allowed(
    guarded: ConnectorContext, host: str
) -> None:
    guard_host(guarded, host, 5432, "test")
    assert "link-local" in refusal(guarded, "169.254.1.2", 5432, "test")  # same call, refused host


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2"])
def test_the_metadata_database_is_refused_on_any_loopback_name(
    guarded: ConnectorContext, host: str
) -> None:
    message = refusal(guarded, host, 5432, "sluice_meta")
    assert "own metadata database" in message
    assert "meta-Pa55" not in message


def test_other_databases_and_ports_of_the_metadata_server_are_allowed(
    guarded: ConnectorContext,
) -> None:
    guard_host(guarded, "127.0.0.1", 5432, "test")
    guard_host(guarded, "127.0.0.1", 5433, "sluice_meta")
    guard_host(guarded, "127.0.0.1", 5432)  # no database named: not a database connection
    assert "own metadata database" in refusal(guarded, "127.0.0.1", 5432, "sluice_meta")


def test_a_socket_metadata_database_is_still_recognised(guarded: ConnectorContext) -> None:
    on_socket = replace(
        guarded, metadata_database_url="postgresql+psycopg://postgres@/sluice_meta"
        "?host=/var/run/postgresql")
    assert "own metadata database" in refusal(on_socket, "127.0.0.1", 5432, "sluice_meta")


def test_a_sqlite_metadata_database_guards_no_server(guarded: ConnectorContext) -> None:
    embedded = replace(guarded, metadata_database_url="sqlite:////tmp/x/sluice.db")
    guard_host(embedded, "127.0.0.1", 5432, "sluice_meta")
    assert "own metadata database" in refusal(guarded, "127.0.0.1", 5432, "sluice_meta")


def test_the_operator_allows_networks_by_cidr(guarded: ConnectorContext) -> None:
    allowing = replace(guarded, allowed_hosts=("169.254.0.0/16",))
    guard_host(allowing, "169.254.169.254", 80)
    guard_host(allowing, "::ffff:169.254.1.2", 80)
    assert "link-local" in refusal(allowing, "fe80::1")


def test_the_operator_allows_hosts_by_name_and_address(guarded: ConnectorContext) -> None:
    allowing = replace(guarded, allowed_hosts=(" Metadata.Google.Internal ", "fe80::1"))
    guard_host(allowing, "metadata.google.internal", 80)
    guard_host(allowing, "fe80::1", 80)
    assert "cloud metadata endpoint" in refusal(allowing, "169.254.169.254")


def test_the_operator_may_allow_the_metadata_server(guarded: ConnectorContext) -> None:
    guard_host(replace(guarded, allowed_hosts=("127.0.0.0/8",)), "127.0.0.1", 5432, "sluice_meta")
    assert "own metadata database" in refusal(guarded, "127.0.0.1", 5432, "sluice_meta")


@pytest.mark.parametrize("url, fragment", [
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata endpoint"),
    ("https://[fe80::1]:8443/hook", "link-local"),
    ("http://0.0.0.0:8080/", "not a server"),
    ("ftp://example.com/file", "http:// or https://"),
    ("http:///path-only", "names no host"),
    ("http://example.com:99999/", "port"),
])
def test_urls_are_guarded_by_their_host(guarded: ConnectorContext, url: str,
                                        fragment: str) -> None:
    with pytest.raises(HostRefusedError) as caught:
        guard_url(guarded, url)
    assert fragment in str(caught.value)


def test_url_refusals_never_quote_the_url(guarded: ConnectorContext) -> None:
    with pytest.raises(HostRefusedError) as caught:
        guard_url(guarded, "http://169.254.169.254/x?token=Secret-Token-123")
    assert "Secret-Token-123" not in str(caught.value)


def test_urls_of_allowed_hosts_pass(guarded: ConnectorContext) -> None:
    guard_url(guarded, "http://127.0.0.1:8080/api")
    guard_url(guarded, "https://[::1]/api")
    guard_url(replace(guarded, allowed_hosts=("169.254.169.254",)), "http://169.254.169.254/")
    with pytest.raises(HostRefusedError, match="cloud metadata endpoint"):  # not allowed
        guard_url(guarded, "http://169.254.169.254/")
