"""Connecting to PostgreSQL: the libpq settings a connection's auth params make (and refuse),
the host guard on each host, and messages and errors without a secret in them, for the catalog
queries of the spec (psycopg) and the reads of the reader (ADBC)."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc_pg
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sluice.connectors.batching import one_line
from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import (
    ConnectionTestFailed,
    SourceReadError,
    TerminalReadError,
    read_error_type,
)
from sluice.connectors.host_guard import guard_host
from sluice.domain.numbers import ascii_whole_number

CONNECT_TIMEOUT_SECONDS = 5

# Keys a user's connection string may set. The rest of libpq's keys (passfile, service,
# sslkey, ...) read files on the Sluice server, so a tenant must not choose them.
_ALLOWED_CONNINFO_KEYS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "sslmode",
        "application_name",
        "options",
        "target_session_attrs",
        "connect_timeout",
    }
)
# Never fall back to the server's own ~/.pgpass (or $PGPASSFILE): its passwords are not the
# tenant's, and libpq would send them to whatever host the tenant named.
_NO_PASSFILE = "/nonexistent/sluice-has-no-passfile"


def _connection_settings(params: Mapping[str, Any]) -> dict[str, str]:
    if "connectionString" in params:
        try:
            settings = conninfo_to_dict(str(params["connectionString"]))
        except psycopg.Error:
            # The driver's parse error quotes the string, password included: say nothing of it.
            raise ConnectionTestFailed(
                "The connection string is not valid. Use postgresql://user:password@host:port/dbname"
                " or key=value pairs (host=... dbname=... user=...)."
            ) from None
        unknown = sorted(set(settings) - _ALLOWED_CONNINFO_KEYS)
        if unknown:
            raise ConnectionTestFailed(
                f"The connection string sets {', '.join(unknown)}, which Sluice does not accept."
                f" Allowed settings: {', '.join(sorted(_ALLOWED_CONNINFO_KEYS))}."
            )
        result = {key: str(value) for key, value in settings.items()}
    else:
        result = {
            "host": str(params.get("host", "")),
            "port": str(params.get("port", 5432)),
            "dbname": str(params.get("database", "")),
            "user": str(params.get("username", "")),
            "password": str(params.get("password") or ""),
            "sslmode": str(params.get("sslMode") or "prefer"),
        }
    # Left unset, libpq would fill these from the server's own PG* environment.
    missing = [key for key in ("host", "dbname", "user") if not result.get(key)]
    if missing:
        raise ConnectionTestFailed(f"The connection must set {', '.join(missing)}.")
    # An empty host or one starting with "/" or "@" is a Unix socket on the Sluice server,
    # where peer authentication would let a tenant in as the server's own OS user.
    if any(host.strip()[:1] in ("", "/", "@") for host in result["host"].split(",")):
        raise ConnectionTestFailed("The host must be a network host name or IP, not a socket path.")
    result.setdefault("password", "")  # "" rather than absent: never fall back to $PGPASSWORD
    result["passfile"] = _NO_PASSFILE
    result["connect_timeout"] = str(CONNECT_TIMEOUT_SECONDS)
    return result


def build_conninfo(params: Mapping[str, Any]) -> str:
    """The libpq connection string for a connection's auth params (either auth spec).

    Raises ConnectionTestFailed when the params cannot make a safe connection string. The
    result holds the password: never log it.
    """
    return make_conninfo("", **_connection_settings(params))


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text)
    return re.sub(r"(://[^/@\s:]*:)[^@\s]*@", r"\1***@", text)


# First match wins: (lowercase text in the driver's message, what the user should check).
_HINTS = (
    ("connection refused", "Check the host and port, and that the server accepts TCP connections."),
    ("timeout expired", "Check the host and port, and that no firewall drops the connection."),
    ("resolve host", "Check the host name."),
    ("translate host name", "Check the host name."),
    ('database "', "Check the database name."),
    ("password", "Check the username and password."),
    ('role "', "Check the username."),
    ("pg_hba.conf", "The server's pg_hba.conf does not let this user connect from Sluice."),
    ("ssl", "Check sslMode against what the server supports."),
)


def explain(driver_message: str, secrets: Iterable[str]) -> str:
    detail = " ".join(redact(driver_message, secrets).split()).removeprefix("connection failed: ")
    if not detail.endswith((".", "?", "!")):
        detail += "."
    hint = next((h for needle, h in _HINTS if needle in detail.lower()), "")
    return f"Could not connect to PostgreSQL: {detail} {hint}".strip()


def guard_hosts(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Refuse, before connecting, any host the host guard refuses (each of a multi-host
    string's hosts, and `hostaddr`, which libpq connects to instead of `host`)."""
    settings = conninfo_to_dict(build_conninfo(params))
    hosts = str(settings.get("hostaddr") or settings["host"]).split(",")
    ports = str(settings.get("port") or "5432").split(",")
    for index, host in enumerate(hosts):
        port = ports[index] if index < len(ports) else ports[-1]
        number = ascii_whole_number(port, spaces=True) if port.strip() else 5432
        if number is None or not 1 <= number <= 65535:
            raise ConnectionTestFailed(f"The port {port[:20]!r} is not a number from 1 to 65535.")
        guard_host(context, host, number, str(settings.get("dbname", "")))


def validate_auth(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """At create and patch, what needs no server: the string parses, sets only allowed keys
    (never `passfile`), and names hosts and ports the host guard accepts."""
    guard_hosts(context, params)


def secrets_of(params: Mapping[str, Any], conninfo: str) -> list[str]:
    password = str(params.get("password") or conninfo_to_dict(conninfo).get("password") or "")
    return [
        password,
        quote(password, safe=""),
        quote_plus(password),
        str(params.get("connectionString", "")),
        conninfo,
    ]


def fetch(
    context: ConnectorContext, params: Mapping[str, Any], sql: str, args: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """The rows of one catalog query (bound `args`), on a connection closed afterwards.

    Raises HostRefusedError for a refused host, SourceReadError (transient or not, no secret
    in its message) when the query cannot be run.
    """
    guard_hosts(context, params)
    conninfo = build_conninfo(params)
    failure: tuple[str, bool]
    try:
        with psycopg.connect(conninfo) as connection:
            return list(connection.execute(sql, args).fetchall())
    except psycopg.Error as error:
        # Build the message outside the handler: the driver error keeps the password.
        failure = (str(error), is_transient(error, str(error)))
    message = explain(failure[0], secrets_of(params, conninfo))
    raise read_error_type(failure[1])(message)


_TERMINAL_MARKERS = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "does not exist",
    "pg_hba.conf",
    "permission denied",
)
# SQLSTATE classes worth a retry: connection (08), resources (53), operator intervention
# (57: shutdown, cancel), transaction rollback (40: deadlock, serialization), system (58),
# lock not available (55P03).
_TRANSIENT_STATES = ("08", "53", "57", "40", "58", "55P03")


def is_transient(error: BaseException, message: str) -> bool:
    """Whether retrying may succeed: by SQLSTATE class, else by the message."""
    state = getattr(error, "sqlstate", None)
    if not state:
        found = re.search(r"SQLSTATE: ([0-9A-Z]{5})", message)
        state = found.group(1) if found else None
    if state:
        return str(state).startswith(_TRANSIENT_STATES)
    lowered = message.lower()
    return not any(marker in lowered for marker in _TERMINAL_MARKERS)


def without_status(message: str) -> str:
    """The driver message without ADBC's `IO: [libpq] ` prefix."""
    return re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", message.strip())


class IdleConnections:
    """Source connections a finished read gave back, for the next read of the same source.

    Opening an ADBC PostgreSQL connection costs ~25 ms (the driver loads the server's type
    catalog), most of a small run. A connection is given back only after a clean rollback,
    so it carries no transaction, and no session state: the reader's settings are
    transaction-local. One is taken only after a round trip shows it alive (a restarted
    server must not fail the next read). Keyed by the whole conninfo, so changed credentials
    never reuse a connection made with the old ones; the host guard still runs on every read.
    Idle connections older than `max_idle_seconds` are closed whenever the pool is used.
    """

    def __init__(self, *, per_source: int = 4, max_idle_seconds: float = 60.0) -> None:
        self.per_source = per_source
        self.max_idle_seconds = max_idle_seconds
        self._lock = threading.Lock()
        self._idle: dict[str, list[tuple[float, Any]]] = {}
        self._pid = os.getpid()

    def take(self, conninfo: str) -> Any | None:
        """A live idle connection to `conninfo`, or None."""
        while True:
            with self._lock:
                self._forget_after_fork()
                stale = self._expired()
                idle = self._idle.get(conninfo)
                connection = idle.pop()[1] if idle else None
            _close_all(stale)
            if connection is None or _alive(connection):
                return connection
            _close_all([connection])

    def give_back(self, conninfo: str, connection: Any) -> None:
        with self._lock:
            self._forget_after_fork()
            idle = self._idle.setdefault(conninfo, [])
            kept = len(idle) < self.per_source
            if kept:
                idle.append((time.monotonic(), connection))
            stale = self._expired()
        _close_all(stale if kept else [*stale, connection])

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        _close_all([connection for entries in idle.values() for _, connection in entries])

    def _forget_after_fork(self) -> None:
        # A forked child must not use (or close) its parent's sockets.
        if self._pid != os.getpid():
            self._idle, self._pid = {}, os.getpid()

    def _expired(self) -> list[Any]:
        oldest = time.monotonic() - self.max_idle_seconds
        stale = []
        for conninfo, entries in list(self._idle.items()):
            stale += [connection for since, connection in entries if since < oldest]
            entries[:] = [entry for entry in entries if entry[0] >= oldest]
            if not entries:
                del self._idle[conninfo]
        return stale


def _alive(connection: Any) -> bool:
    try:
        cursor = connection.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        finally:
            cursor.close()
        connection.rollback()
    except Exception:
        return False
    return True


def _close_all(connections: Iterable[Any]) -> None:
    for connection in connections:
        with contextlib.suppress(Exception):
            connection.close()


IDLE_CONNECTIONS = IdleConnections()
# A clean goodbye to the source servers rather than sockets dropped at exit.
atexit.register(IDLE_CONNECTIONS.close_all)


class AdbcSession:
    """An ADBC connection with the connection's secrets, to keep them out of messages.

    The connection comes from `IDLE_CONNECTIONS` when one to the same source is idle, and
    goes back there when the session closes cleanly."""

    def __init__(self, context: Any, auth: Mapping[str, Any]) -> None:
        try:
            guard_hosts(context, auth)
            conninfo = build_conninfo(auth)
        except ConnectionTestFailed as error:
            raise TerminalReadError(error.message) from None
        self.secrets = tuple(secrets_of(auth, conninfo))
        self._conninfo = conninfo
        reused = IDLE_CONNECTIONS.take(conninfo)
        if reused is not None:
            self.connection = reused
            return
        failure: tuple[str, bool] | None = None
        try:
            # Not autocommit: the window's settings and the read share one transaction.
            self.connection = adbc_pg.connect(conninfo, autocommit=False)
        except adbc_driver_manager.Error as error:
            # Build the message outside the handler: the driver error may hold the password.
            failure = (without_status(str(error)), is_transient(error, str(error)))
        if failure is not None:
            raise read_error_type(failure[1])(explain(failure[0], self.secrets))

    def error(self, error: BaseException, what: str) -> SourceReadError:
        """A SourceReadError for a driver error, with no secret in its message."""
        text = str(error)
        detail = redact(one_line(without_status(text)), self.secrets)
        return read_error_type(is_transient(error, text))(f"{what}: {detail}")

    def close(self) -> None:
        # Only reads happened: roll back. Closing after a failure must not hide the failure;
        # a connection whose rollback failed is not trusted again.
        try:
            self.connection.rollback()
        except Exception:
            _close_all([self.connection])
            return
        IDLE_CONNECTIONS.give_back(self._conninfo, self.connection)
