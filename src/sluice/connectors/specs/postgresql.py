"""The PostgreSQL tables connection spec: its schemas, its libpq settings and its test."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreError, ExploreItem, ObjectType
from sluice.connectors.host_guard import guard_host
from sluice.connectors.readers.pg_catalog import (
    LIST_SCHEMAS_SQL,
    LIST_TABLES_SQL,
    SCHEMA_EXISTS_SQL,
)
from sluice.connectors.readers.postgresql import check_delta_column, is_transient, open_source
from sluice.connectors.reading import SourceReadError
from sluice.connectors.registry import ConnectionSpec, ConnectionTestFailed, ConnectorContext
from sluice.connectors.specs.common import (
    database_basic_auth,
    database_connection_string_auth,
    table_params_schema,
)
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

_TABLE_NAME = r'^[^.\x00-\x1f"]+(\.[^.\x00-\x1f"]+)?$'

CONNECTION_STRING_AUTH = database_connection_string_auth(
    "A libpq connection string: postgresql://user:password@host:5432/dbname"
    " or host=... port=... dbname=... user=... password=...",
    "Must set host, dbname and user.",
)

BASIC_AUTH = database_basic_auth(
    5432, ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"), "prefer"
)

TABLE_PARAMS_SCHEMA = table_params_schema(
    _TABLE_NAME, "`table` or `schema.table`, each part taken literally."
)


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


def _redact(text: str, secrets: Iterable[str]) -> str:
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


def _explain(driver_message: str, secrets: Iterable[str]) -> str:
    detail = " ".join(_redact(driver_message, secrets).split()).removeprefix("connection failed: ")
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


def _secrets(params: Mapping[str, Any], conninfo: str) -> list[str]:
    password = str(params.get("password") or conninfo_to_dict(conninfo).get("password") or "")
    return [
        password,
        quote(password, safe=""),
        quote_plus(password),
        str(params.get("connectionString", "")),
        conninfo,
    ]


def _fetch(
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
    message = _explain(failure[0], _secrets(params, conninfo))
    raise SourceReadError(message, transient=failure[1])


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Connect and run `SELECT 1`; the failure message never holds the password."""
    try:
        _fetch(context, params, "SELECT 1")
    except SourceReadError as error:
        raise ConnectionTestFailed(error.message) from None


def list_objects(
    context: ConnectorContext,
    params: Mapping[str, Any],
    object_type: ObjectType,
    place: str | None,
) -> list[ExploreItem]:
    """Root: the schemas; `schema`: its tables and views (`path` is `schema.table`)."""
    if object_type == "root":
        rows = _fetch(context, params, LIST_SCHEMAS_SQL, (MAX_LISTED_OBJECTS,))
        return [ExploreItem("schema", name, name, False, False) for (name,) in rows]
    if object_type != "schema":
        raise ExploreError(
            f"PostgreSQL connections list schemas (objectType=root) and their tables"
            f" (objectType=schema), not objectType={object_type}."
        )
    schema = place or ""
    rows = _fetch(context, params, LIST_TABLES_SQL, (schema, MAX_LISTED_OBJECTS))
    if not rows and not _fetch(context, params, SCHEMA_EXISTS_SQL, (schema,)):
        raise ExploreError(f"The schema {schema!r} does not exist.")
    return [ExploreItem("table", name, f"{schema}.{name}", True, True) for name, _kind in rows]


SPEC = ConnectionSpec(
    id="1bed8a75-0487-4216-85f5-94ddf2058992",
    name="PostgreSQL",
    description="Tables of a PostgreSQL database.",
    category="database",
    source_kind="table",
    auth_specs=(CONNECTION_STRING_AUTH, BASIC_AUTH),
    params_schema=TABLE_PARAMS_SCHEMA,
    tester=check_connection,
    validate_auth=validate_auth,
    open_source=open_source,
    check_delta_column=check_delta_column,
    list_objects=list_objects,
)
