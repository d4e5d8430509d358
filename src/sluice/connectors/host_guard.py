"""Refusing connections to hosts a tenant must not reach through Sluice.

A connection names a host; Sluice's workers then connect to it from inside the operator's
network. Three kinds of destination are refused unless the operator lists them in
`SLUICE_CONNECTOR_ALLOWED_HOSTS`:

- link-local addresses (169.254.0.0/16, fe80::/10), where cloud instance metadata and its
  credentials live, and the other well-known metadata addresses and names;
- Sluice's own metadata database (same address, port and database name), whose contents are
  every tenant's;
- addresses that are not addresses at all (unspecified 0.0.0.0, multicast).

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

from sluice.connectors.registry import ConnectionTestFailed, ConnectorContext

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance-metadata endpoints of the big clouds, beyond the link-local range itself.
_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


class HostRefusedError(ConnectionTestFailed):
    """The host is one the guard refuses; the message says why without any secret."""


def _resolve(host: str, port: int | None) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []  # an unknown name fails later, at connection time, with its own message
    addresses = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone index
        address = ipaddress.ip_address(raw)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        addresses.append(address)
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
    if url.get_backend_name() == "sqlite" or not url.host:
        return None
    default_ports = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
    port = url.port or default_ports.get(url.get_backend_name(), 0)
    return url.host, port, url.database or ""


def guard_host(
    context: ConnectorContext, host: str, port: int | None = None, database: str | None = None
) -> None:
    """Raise HostRefusedError if `host` (with `port`, `database` for a database server) is a
    destination the guard refuses and the operator has not allowed."""
    name = host.strip().strip("[]").rstrip(".")
    if not name:
        raise HostRefusedError("The connection names no host.")
    addresses = _resolve(name, port)
    if _allowed(name, addresses, context.allowed_hosts):
        return
    shown = repr(host)
    if name.lower() in _METADATA_NAMES or any(a in _METADATA_ADDRESSES for a in addresses):
        raise HostRefusedError(
            f"The host {shown} is a cloud metadata endpoint; Sluice does not connect to it."
        )
    for address in addresses:
        if address.is_link_local:
            raise HostRefusedError(
                f"The host {shown} resolves to the link-local address {address}; Sluice does "
                "not connect there unless the operator allows it (SLUICE_CONNECTOR_ALLOWED_HOSTS)."
            )
        if address.is_unspecified or address.is_multicast:
            raise HostRefusedError(f"The host {shown} resolves to {address}, not a server.")
    own = _metadata_database(context)
    if own is not None and database is not None and port is not None:
        own_host, own_port, own_database = own
        same_server = port == own_port and bool(set(addresses) & set(_resolve(own_host, own_port)))
        if same_server and database == own_database:
            raise HostRefusedError(
                f"The database {database!r} on {shown} is Sluice's own metadata database; "
                "connections may not read it."
            )


def guard_url(context: ConnectorContext, url: str) -> None:
    """`guard_host` for the host of an http(s) URL (REST sources, webhooks)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise HostRefusedError(f"The URL {url!r} names no host.")
    default_port = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default_port
    except ValueError:
        raise HostRefusedError("The URL's port is not a number between 0 and 65535.") from None
    guard_host(context, parts.hostname, port)
