"""JSON Schema builders several connection specs share: the auth spec envelope, a database
server's Basic and connection-string auth, and the params of a table source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sluice.connectors.contract import AuthSpec

JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"


def auth_spec(
    name: str,
    type_: str,
    properties: Mapping[str, Any],
    required: Sequence[str],
    *,
    description: str | None = None,
) -> AuthSpec:
    """An auth spec whose params are exactly `properties`: an unknown key is refused rather
    than ignored, so a misspelt setting never silently falls back to a default."""
    schema: dict[str, Any] = {"$schema": JSON_SCHEMA_DRAFT, "type": "object"}
    if description is not None:
        schema["description"] = description
    schema["properties"] = dict(properties)
    schema["required"] = list(required)
    schema["additionalProperties"] = False
    return AuthSpec(name=name, type=type_, schema=schema)


def port_schema(default: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": 65535, "default": default}


def database_connection_string_auth(description: str, string_description: str) -> AuthSpec:
    """A database server named by one connection string (a secret: it may hold the password)."""
    return auth_spec(
        "Connection String Based Authentication",
        "ConnectionString",
        {
            "connectionString": {
                "type": "string",
                "format": "password",
                "minLength": 1,
                "description": string_description,
            },
        },
        ["connectionString"],
        description=description,
    )


def database_basic_auth(
    default_port: int, ssl_modes: Sequence[str], default_ssl_mode: str
) -> AuthSpec:
    """A database server named by host, port, database, user and password."""
    return auth_spec(
        "Basic Authentication",
        "Basic",
        {
            "host": {"type": "string", "minLength": 1, "description": "Server host name or IP."},
            "port": port_schema(default_port),
            "database": {"type": "string", "minLength": 1},
            "username": {"type": "string", "minLength": 1},
            "password": {"type": "string", "format": "password"},
            "sslMode": {"type": "string", "default": default_ssl_mode, "enum": list(ssl_modes)},
        },
        ["host", "database", "username"],
    )


def table_params_schema(name_pattern: str, name_description: str) -> dict[str, Any]:
    """The `params` of a table source: the table, and the columns a mapping may list."""
    return {
        "type": "object",
        "properties": {
            "tableName": {
                "type": "string",
                "pattern": name_pattern,
                "description": name_description,
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
