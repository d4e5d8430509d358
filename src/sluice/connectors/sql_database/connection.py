"""Connecting to "any SQLAlchemy database": which URLs are allowed, the engine made from one,
and driver errors turned into messages without secrets.

Only drivers on `ALLOWED_DRIVERS` are accepted, and of their URL options only the ones that
cannot make the Sluice server read its own files or sockets (libpq's `passfile`, `sslkey` and
`host=/socket/dir`, pymysql's `read_default_file` and `unix_socket` are refused). SQLite files
must lie inside the allowed folders and are opened read-only. Network hosts pass the host
guard first.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import psycopg
import pymysql
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from sluice.connectors.batching import one_line
from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, SourceReadError, read_error_type
from sluice.connectors.host_guard import HostRefusedError, guard_host
from sluice.connectors.mysql import session as mysql_session
from sluice.connectors.paths import PathOutsideRootsError, resolve_inside_roots
from sluice.connectors.sql_database.connection_spec import ALLOWED_DRIVERS
from sluice.domain.numbers import ascii_whole_number

CONNECT_TIMEOUT_SECONDS = 5
# URL query options each driver may set; any other is refused.
_ALLOWED_OPTIONS: dict[str, frozenset[str]] = {
    "postgresql+psycopg": frozenset(
        {"sslmode", "application_name", "target_session_attrs", "connect_timeout"}
    ),
    "mysql+pymysql": frozenset({"charset"}),
    "mariadb+pymysql": frozenset({"charset"}),
    "sqlite": frozenset(),
}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
# Never fall back to the server's own ~/.pgpass: its passwords are not the tenant's.
_NO_PASSFILE = "/nonexistent/sluice-has-no-passfile"
# SQLSTATE classes worth a retry (as the PostgreSQL reader): connection, resources, operator
# intervention, transaction rollback, system, lock not available.
_TRANSIENT_STATES = ("08", "53", "57", "40", "58", "55P03")
_TERMINAL_MARKERS = ("authentication failed", "does not exist", "pg_hba.conf", "permission denied")
# First match wins: (lowercase text in the driver's message, what the user should check).
_HINTS = (
    ("connection refused", "Check the host and port, and that the server accepts connections."),
    ("can't connect", "Check the host and port, and that the server accepts connections."),
    ("timeout", "Check the host and port, and that no firewall drops the connection."),
    ("password", "Check the username and password."),
    ("access denied", "Check the username and password."),
    ("unknown database", "Check the database name."),
    ('database "', "Check the database name."),
)


class DatabaseConnectFailed(ConnectionTestFailed):
    """Connecting failed: a test's verdict, and for a read `read_error`, the read error type
    it stands for (transient when trying again later may succeed)."""

    def __init__(self, message: str, *, read_error: type[SourceReadError]) -> None:
        super().__init__(message)
        self.read_error = read_error


@dataclass(frozen=True)
class DatabaseUrl:
    """A checked URL. Holds the password: never log it or put it in a message."""

    url: URL
    raw: str
    sqlite_path: Path | None = None

    @property
    def driver(self) -> str:
        return self.url.drivername

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def secrets(self) -> tuple[str, ...]:
        password = str(self.url.password or "")
        return (
            password,
            quote(password, safe=""),
            quote_plus(password),
            self.raw,
            self.url.render_as_string(hide_password=False),
        )


def parse_url(context: ConnectorContext, params: Mapping[str, Any]) -> DatabaseUrl:
    """The connection's URL, checked; ConnectionTestFailed (without secrets) when refused.
    Does not reach the host guard: `check_host` does, where a connection is made."""
    raw = str(params.get("url", "")).strip()
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        # SQLAlchemy's message quotes the URL, password included: say nothing of it.
        raise ConnectionTestFailed(
            "The url is not a valid SQLAlchemy URL; use dialect+driver://user:password@host:port"
            "/database, e.g. postgresql+psycopg://user:password@db.example.com:5432/sales."
        ) from None
    if url.port is not None and not _ascii_port(raw):
        # int() read the port, and int() takes full-width and other scripts' digits too.
        raise ConnectionTestFailed("The url's port must be ASCII digits, from 1 to 65535.")
    if url.drivername not in ALLOWED_DRIVERS:
        raise ConnectionTestFailed(
            f"The driver {url.drivername!r} is not allowed; use one of"
            f" {', '.join(ALLOWED_DRIVERS)}."
        )
    unknown = sorted(set(url.query) - _ALLOWED_OPTIONS[url.drivername])
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED_OPTIONS[url.drivername])) or "none"
        raise ConnectionTestFailed(
            f"The url sets {', '.join(unknown)}, which Sluice does not accept for"
            f" {url.drivername} (allowed options: {allowed})."
        )
    if url.drivername == "sqlite":
        return DatabaseUrl(url, raw, _sqlite_path(context, url))
    if not url.host or url.host.startswith(("/", "@")):
        raise ConnectionTestFailed("The url must name a network host, not a socket path.")
    if not url.database:
        raise ConnectionTestFailed("The url must name a database.")
    return DatabaseUrl(url, raw)


# SQLAlchemy's own URL grammar, down to the port (sqlalchemy.engine.url._parse_url).
_URL_PORT = re.compile(
    r"[\w+]+://(?:[^:/]*(?::[^@]*)?@)?(?:\[[^/?]+\]|[^/:?]+)?(?::(?P<port>[^/?]*))?"
)


def _ascii_port(raw: str) -> bool:
    found = _URL_PORT.match(raw)
    number = ascii_whole_number(found.group("port") or "") if found else None
    return number is not None and 1 <= number <= 65535


def _sqlite_path(context: ConnectorContext, url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConnectionTestFailed("A sqlite url must name a database file: sqlite:////abs/path.db")
    try:
        path = resolve_inside_roots(url.database, context.allowed_file_roots)
    except PathOutsideRootsError as error:
        raise ConnectionTestFailed(str(error)) from None
    own = _metadata_sqlite_file(context)
    if own is not None and own == path:
        raise HostRefusedError(
            "The file is Sluice's own metadata database; connections may not read it."
        )
    return path


def _metadata_sqlite_file(context: ConnectorContext) -> Path | None:
    try:
        own = make_url(context.metadata_database_url)
    except ArgumentError:
        return None
    if own.get_backend_name() != "sqlite" or not own.database or own.database == ":memory:":
        return None
    return Path(own.database).resolve()


def check_host(context: ConnectorContext, database_url: DatabaseUrl) -> None:
    """The host guard, for a networked database (raises HostRefusedError)."""
    url = database_url.url
    if database_url.sqlite_path is not None or url.host is None:
        return
    port = url.port or _DEFAULT_PORTS.get(database_url.dialect)
    guard_host(context, url.host, port, url.database)


def create_engine(context: ConnectorContext, database_url: DatabaseUrl) -> sa.Engine:
    """An engine without a pool (each read owns its connection), after the host guard."""
    check_host(context, database_url)
    path = database_url.sqlite_path
    if path is not None:
        # Read-only, and never creating a missing file.
        uri = f"{path.as_uri()}?mode=ro"
        return sa.create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, timeout=CONNECT_TIMEOUT_SECONDS),
            poolclass=NullPool,
            hide_parameters=True,
        )
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if database_url.dialect == "postgresql":
        connect_args["passfile"] = _NO_PASSFILE
        if database_url.url.password is None:
            connect_args["password"] = ""  # never fall back to $PGPASSWORD
    else:
        connect_args.update(init_command=mysql_session.UTC_SESSION_SQL, local_infile=False)
    return sa.create_engine(
        database_url.url, poolclass=NullPool, connect_args=connect_args, hide_parameters=True
    )


def connect(context: ConnectorContext, database_url: DatabaseUrl) -> sa.Connection:
    """An open connection. Raises DatabaseConnectFailed when the server cannot be reached
    or refuses, HostRefusedError / ConnectionTestFailed when Sluice refuses to try."""
    if database_url.sqlite_path is not None and not database_url.sqlite_path.is_file():
        raise ConnectionTestFailed(
            f"The SQLite file {str(database_url.sqlite_path)!r} does not exist or is not a file."
        )
    engine = create_engine(context, database_url)
    try:
        return engine.connect()
    except DBAPIError as error:
        message = "Could not connect to the database: " + describe(error, database_url.secrets)
        transient = is_transient(error)
    # Raised outside the handler: the driver's exception may hold the password.
    raise DatabaseConnectFailed(message, read_error=read_error_type(transient))


def _original(error: BaseException) -> BaseException:
    orig = getattr(error, "orig", None)
    return orig if isinstance(orig, BaseException) else error


def is_transient(error: BaseException) -> bool:
    """Whether retrying may succeed (a broken connection, a deadlock) or not (bad password,
    missing table)."""
    orig = _original(error)
    if isinstance(orig, pymysql.MySQLError):
        return mysql_session.is_transient(orig)
    if isinstance(orig, psycopg.Error):
        if orig.sqlstate:
            return orig.sqlstate.startswith(_TRANSIENT_STATES)
        lowered = str(orig).lower()
        return not any(marker in lowered for marker in _TERMINAL_MARKERS)
    if isinstance(orig, sqlite3.Error):
        lowered = str(orig).lower()
        return "locked" in lowered or "busy" in lowered
    return isinstance(error, DBAPIError) and error.connection_invalidated


def describe(error: BaseException, secrets: Iterable[str]) -> str:
    """The driver's own message (not SQLAlchemy's wrapping with the SQL), on one line,
    without secrets, with a hint when one helps."""
    orig = _original(error)
    if isinstance(orig, pymysql.MySQLError):
        return mysql_session.describe(orig, secrets)
    detail = mysql_session.redact(one_line(str(orig)), secrets).removeprefix("connection failed: ")
    if not detail.endswith((".", "?", "!", ")")):
        detail += "."
    lowered = detail.lower()
    hint = next((h for needle, h in _HINTS if needle in lowered), "")
    return f"{detail} {hint}".strip()
