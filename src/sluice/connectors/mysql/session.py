"""Connecting to MySQL / MariaDB: the settings of a connection's auth params, a pymysql
session in a UTC time zone, and driver errors turned into messages without secrets.

Used by the connection test, the explorer and the reader alike, so all three refuse the same
hosts and explain the same failures the same way.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import pymysql

from sluice.connectors.batching import one_line
from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, SourceReadError, read_error_type
from sluice.connectors.host_guard import guard_host
from sluice.connectors.mysql.connection_spec import DEFAULT_PORT, SSL_MODES

CONNECT_TIMEOUT_SECONDS = 5
# Every session reads TIMESTAMP values (stored in UTC) in UTC, whatever the server's zone.
UTC_SESSION_SQL = "SET time_zone = '+00:00'"

_URL_SCHEMES = ("mysql", "mariadb")
# The only option a connection string may set: the others of MySQL clients read files on the
# Sluice server (ssl-ca, ...) or pick a Unix socket there.
_URL_OPTIONS = frozenset({"ssl-mode"})

# Server and client error numbers worth a retry: connection lost or refused, server gone or
# shutting down, too many connections, lock wait timeout, deadlock, query interrupted.
_TRANSIENT_ERRORS = frozenset({1040, 1053, 1205, 1213, 1317, 1927, 2002, 2003, 2006, 2013, 2055})
# First match wins: (MySQL error number, what the user should check).
_HINTS = {
    1045: "Check the username and password.",
    1044: "Check that the user may use this database.",
    1049: "Check the database name.",
    2002: "Check the host and port, and that the server accepts TCP connections.",
    2003: "Check the host and port, and that the server accepts TCP connections.",
    2026: "Check sslMode against what the server supports.",
}


@dataclass(frozen=True)
class MysqlSettings:
    """Where and how to connect. Holds the password: never log it or put it in a message."""

    host: str
    port: int
    user: str
    password: str
    database: str
    ssl_mode: str = "PREFERRED"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every form the password may take in a driver's message."""
        return (self.password, quote(self.password, safe=""), quote_plus(self.password))


def settings_from_params(params: Mapping[str, Any]) -> MysqlSettings:
    """The settings of a connection's auth params (either auth spec); ConnectionTestFailed,
    without the password, when they cannot make a safe connection."""
    if "connectionString" in params:
        settings = _settings_from_url(str(params["connectionString"]))
    else:
        settings = MysqlSettings(
            host=str(params.get("host", "")).strip(),
            port=int(params.get("port") or DEFAULT_PORT),
            user=str(params.get("username", "")),
            password=str(params.get("password") or ""),
            database=str(params.get("database", "")),
            ssl_mode=str(params.get("sslMode") or "PREFERRED").upper(),
        )
    missing = [
        name
        for name, value in (
            ("host", settings.host),
            ("database", settings.database),
            ("username", settings.user),
        )
        if not value
    ]
    if missing:
        raise ConnectionTestFailed(f"The connection must set {', '.join(missing)}.")
    if settings.host.startswith(("/", "@", ".")):
        raise ConnectionTestFailed("The host must be a network host name or IP, not a socket path.")
    if settings.ssl_mode not in SSL_MODES:
        raise ConnectionTestFailed(f"sslMode must be one of {', '.join(SSL_MODES)}.")
    return settings


def _settings_from_url(url: str) -> MysqlSettings:
    usage = "Use mysql://user:password@host:port/database."
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORT
    except ValueError:
        # urllib's message may quote the URL, password included: say nothing of it.
        raise ConnectionTestFailed(f"The connection string is not a valid URL. {usage}") from None
    if parts.scheme.lower() not in _URL_SCHEMES or not parts.netloc:
        raise ConnectionTestFailed(f"The connection string is not a MySQL URL. {usage}")
    options: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        key, _, value = pair.partition("=")
        options[unquote(key).lower()] = unquote(value)
    unknown = sorted(set(options) - _URL_OPTIONS)
    if unknown:
        raise ConnectionTestFailed(
            f"The connection string sets {', '.join(unknown)}, which Sluice does not accept."
            f" Allowed options: {', '.join(sorted(_URL_OPTIONS))}."
        )
    return MysqlSettings(
        host=parts.hostname or "",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")),
        ssl_mode=options.get("ssl-mode", "PREFERRED").upper(),
    )


def _ssl_arguments(mode: str) -> dict[str, Any]:
    """pymysql's TLS arguments for a MySQL `ssl-mode`."""
    if mode == "DISABLED":
        return {"ssl_disabled": True}
    if mode == "PREFERRED":
        return {}  # pymysql tries TLS and falls back to plain when the server has none
    context = ssl.create_default_context()
    if mode != "VERIFY_IDENTITY":
        context.check_hostname = False
    if mode == "REQUIRED":
        context.verify_mode = ssl.CERT_NONE
    return {"ssl": context}


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets` and without the password part of any URL in it."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return re.sub(r"(://[^/@\s:]*:)[^@\s]*@", r"\1***@", text)


def error_number(error: BaseException) -> int | None:
    """The MySQL error number of a pymysql error, or of a connectorx message quoting one."""
    args: tuple[Any, ...] = tuple(error.args)
    if args and isinstance(args[0], int):
        return int(args[0])
    found = re.search(r"ERROR (\d{4})", str(error))
    if found:
        return int(found.group(1))
    if "Could not connect to address" in str(error):
        return 2003
    return None


def is_transient(error: BaseException) -> bool:
    number = error_number(error)
    if number is None:
        # No server verdict: the connection broke (a timeout, a reset), which may heal.
        return isinstance(error, (pymysql.err.OperationalError, pymysql.err.InterfaceError))
    return number in _TRANSIENT_ERRORS


def describe(error: BaseException, secrets: Iterable[str]) -> str:
    """The driver's message, on one line, without secrets, with a hint when one helps."""
    args: tuple[Any, ...] = tuple(error.args)
    text = str(args[1]) if len(args) >= 2 and isinstance(args[0], int) else str(error)
    detail = redact(one_line(text), secrets)
    if not detail.endswith((".", "?", "!", ")")):
        detail += "."
    hint = _HINTS.get(error_number(error) or 0, "")
    return f"{detail} {hint}".strip()


class MysqlConnectFailed(ConnectionTestFailed):
    """Connecting failed: a test's verdict, and for a read `read_error`, the read error type
    it stands for (transient when trying again later may succeed)."""

    def __init__(self, message: str, *, read_error: type[SourceReadError]) -> None:
        super().__init__(message)
        self.read_error = read_error


def connect(context: ConnectorContext, settings: MysqlSettings) -> Any:
    """A pymysql connection in a UTC session, after the host guard let the host through.

    Raises HostRefusedError, or MysqlConnectFailed with a message without secrets.
    """
    guard_host(context, settings.host, settings.port, settings.database)
    try:
        return pymysql.connect(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            database=settings.database,
            charset="utf8mb4",
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            init_command=UTC_SESSION_SQL,
            autocommit=True,
            local_infile=False,
            **_ssl_arguments(settings.ssl_mode),
        )
    except (pymysql.MySQLError, OSError) as error:
        message = "Could not connect to MySQL: " + describe(error, settings.secrets)
        transient = is_transient(error) or isinstance(error, OSError)
    # Raised outside the handler, so the driver's exception (which may hold the password in
    # its context) is not chained to it.
    raise MysqlConnectFailed(message, read_error=read_error_type(transient))


def uses_tls(connection: Any) -> bool:
    """Whether the session is encrypted (the server's own answer, not the requested mode)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cursor.fetchone()
    return bool(row and row[1])


def forget_unbuffered_result(cursor: Any) -> None:
    """Mark a pymysql unbuffered cursor's unfinished result as done, after its connection was
    closed on purpose: otherwise closing or collecting the cursor tries to read the rest of the
    rows from the closed connection (pymysql's MySQLResult.__del__, SSCursor.close)."""
    result = getattr(cursor, "_result", None)
    if result is not None and getattr(result, "unbuffered_active", False):
        result.unbuffered_active = False
