"""Refusing connections to hosts a tenant must not reach through Sluice.

A connection names a host; Sluice's workers then connect to it from inside the operator's
network. Three kinds of destination are refused unless the operator lists them in
`SLUICE_CONNECTOR_ALLOWED_HOSTS`:

- link-local addresses (169.254.0.0/16, fe80::/10), where cloud instance metadata and its
  credentials live, and the other well-known metadata addresses and names;
- Sluice's own metadata database (same address, port and database name), whose contents are
  every tenant's;
- addresses that are not addresses at all (unspecified 0.0.0.0, multicast, broadcast).

IPv6 forms that carry an IPv4 address (`::ffff:a.b.c.d`, 6to4, NAT64) are judged by that
IPv4 address, and names by every address they resolve to.

Loopback and private networks stay allowed: on-premise databases live there, and this
machine's own test servers too. The check resolves the name once; a name whose DNS answer
changes between the check and the connection is not caught here (the network's egress rules
are the place for that).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance-metadata endpoints of the big clouds, beyond the link-local range itself.
_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, ...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
        "192.0.0.192",  # Oracle Cloud
    )
)
# IPv6 prefixes that embed an IPv4 address a gateway will reach: NAT64 (RFC 6052).
_NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


class HostRefusedError(ConnectionTestFailed):
    """The host is one the guard refuses; the message says why without any secret."""


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), else itself:
    `::ffff:169.254.169.254` reaches the metadata service as surely as the plain form."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _resolve(host: str) -> list[IPAddress]:
    # Resolved without the port: the port does not change the address, and a bad port
    # (getaddrinfo refuses -1) must not make the host look unresolvable, hence allowed.
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return []  # an unknown name fails later, at connection time, with its own message
    addresses = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone index
        addresses.append(_embedded_ipv4(ipaddress.ip_address(raw)))
    return addresses


def _allowed(host: str, addresses: Iterable[IPAddress], allowed: Iterable[str]) -> bool:
    entries = [a.strip().lower() for a in allowed if a.strip()]
    if host.lower() in entries:
        return True
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name entry, matched above
    listed = list(addresses)
    return bool(listed) and all(any(a in n for n in networks) for a in listed)


def _metadata_database(context: ConnectorContext) -> tuple[str, int, str] | None:
    """(host, port, database) of a networked metadata database; None for SQLite."""
    try:
        url = make_url(context.metadata_database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() == "sqlite":
        return None
    host = url.host
    if not host:
        # No host, or `?host=/run/postgresql`: a Unix socket, so a server on this machine,
        # which a tenant reaches over TCP on loopback.
        socket_host = url.query.get("host")
        first = socket_host[0] if isinstance(socket_host, tuple) else socket_host
        host = str(first) if first and not str(first).startswith("/") else "localhost"
    default_ports = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
    port = url.port or default_ports.get(url.get_backend_name(), 0)
    return host, port, url.database or ""


def _same_server(addresses: list[IPAddress], own_addresses: list[IPAddress]) -> bool:
    """Whether two resolved hosts reach the same machine: a shared address, or both on
    loopback (127.0.0.1 and 127.0.0.2 both reach a server listening on all addresses)."""
    if set(addresses) & set(own_addresses):
        return True
    return any(a.is_loopback for a in addresses) and any(a.is_loopback for a in own_addresses)


def guard_host(
    context: ConnectorContext, host: str, port: int | None = None, database: str | None = None
) -> None:
    """Raise HostRefusedError if `host` (with `port`, `database` for a database server) is a
    destination the guard refuses and the operator has not allowed."""
    name = host.strip().strip("[]").rstrip(".")
    if not name:
        raise HostRefusedError("The connection names no host.")
    addresses = _resolve(name)
    if _allowed(name, addresses, context.allowed_hosts):
        return
    shown = repr(host)
    if name.lower() in _METADATA_NAMES or any(a in _METADATA_ADDRESSES for a in addresses):
        raise HostRefusedError(
            f"The host {shown} is a cloud metadata endpoint; Sluice does not connect to it "
            "unless the operator allows it (SLUICE_CONNECTOR_ALLOWED_HOSTS)."
        )
    for address in addresses:
        if address.is_link_local:
            raise HostRefusedError(
                f"The host {shown} resolves to the link-local address {address}; Sluice does "
                "not connect there unless the operator allows it (SLUICE_CONNECTOR_ALLOWED_HOSTS)."
            )
        if address.is_unspecified or address.is_multicast or address == _BROADCAST:
            raise HostRefusedError(f"The host {shown} resolves to {address}, not a server.")
    own = _metadata_database(context)
    if own is not None and database is not None and port is not None:
        own_host, own_port, own_database = own
        if (
            port == own_port
            and database == own_database
            and _same_server(addresses, _resolve(own_host))
        ):
            raise HostRefusedError(
                f"The database {database!r} on {shown} is Sluice's own metadata database; "
                "connections may not read it."
            )


def guard_url(context: ConnectorContext, url: str) -> None:
    """`guard_host` for the host of an http(s) URL (REST sources, webhooks).

    Messages never quote the URL: its path or query may hold a token.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise HostRefusedError("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise HostRefusedError("The URL names no host.")
    default_port = 443 if parts.scheme.lower() == "https" else 80
    try:
        port = parts.port or default_port
    except ValueError:
        raise HostRefusedError("The URL's port is not a number between 0 and 65535.") from None
    guard_host(context, parts.hostname, port)
