"""The PostgreSQL tables connection spec: its schemas, its libpq settings and its test."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sluice.connectors.readers.postgresql import check_delta_column, open_source
from sluice.connectors.registry import (
    AuthSpec,
    ConnectionSpec,
    ConnectionTestFailed,
    ConnectorContext,
)

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

CONNECTION_STRING_AUTH = AuthSpec(
    name="Connection String Based Authentication",
    type="ConnectionString",
    schema={
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": "A libpq connection string: postgresql://user:password@host:5432/dbname"
        " or host=... port=... dbname=... user=... password=...",
        "properties": {
            "connectionString": {
                "type": "string",
                "format": "password",
                "minLength": 1,
                "description": "Must set host, dbname and user.",
            },
        },
        "required": ["connectionString"],
        "additionalProperties": False,
    },
)

BASIC_AUTH = AuthSpec(
    name="Basic Authentication",
    type="Basic",
    schema={
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "host": {"type": "string", "minLength": 1, "description": "Server host name or IP."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 5432},
            "database": {"type": "string", "minLength": 1},
            "username": {"type": "string", "minLength": 1},
            "password": {"type": "string", "format": "password"},
            "sslMode": {
                "type": "string",
                "default": "prefer",
                "enum": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
            },
        },
        "required": ["host", "database", "username"],
        "additionalProperties": False,
    },
)

TABLE_PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tableName": {
            "type": "string",
            "pattern": _TABLE_NAME,
            "description": "`table` or `schema.table`, each part taken literally.",
        },
        "columns": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "type": {"type": "string"},
                },
            },
        },
        "cdcEnabled": {"type": "boolean", "default": False},
    },
    "required": ["tableName"],
}


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


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Connect and run `SELECT 1`; the failure message never holds the password."""
    conninfo = build_conninfo(params)
    password = str(params.get("password") or conninfo_to_dict(conninfo).get("password") or "")
    secrets = [
        password,
        quote(password, safe=""),
        quote_plus(password),
        str(params.get("connectionString", "")),
        conninfo,
    ]
    failure: str | None = None
    try:
        with psycopg.connect(conninfo) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        # Build the message outside the handler: the driver error keeps the password.
        failure = str(error)
    if failure is not None:
        raise ConnectionTestFailed(_explain(failure, secrets))


SPEC = ConnectionSpec(
    id="1bed8a75-0487-4216-85f5-94ddf2058992",
    name="PostgreSQL",
    description="Tables of a PostgreSQL database.",
    category="database",
    source_kind="table",
    auth_specs=(CONNECTION_STRING_AUTH, BASIC_AUTH),
    params_schema=TABLE_PARAMS_SCHEMA,
    tester=check_connection,
    open_source=open_source,
    check_delta_column=check_delta_column,
)
