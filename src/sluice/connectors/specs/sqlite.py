"""The SQLite database-file connection spec: its schemas and its read-only test."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from sluice.connectors.paths import PathOutsideRootsError, resolve_inside_roots
from sluice.connectors.readers.sqlite import check_delta_column, open_source
from sluice.connectors.registry import (
    AuthSpec,
    ConnectionSpec,
    ConnectionTestFailed,
    ConnectorContext,
)

FILE_PATH_AUTH = AuthSpec(
    name="File Path Authentication",
    type="FilePath",
    schema={
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "minLength": 1,
                "description": "Absolute path of the file, inside an allowed folder.",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
    },
)

TABLE_PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tableName": {
            "type": "string",
            "pattern": r"^[^\x00-\x1f]+$",
            "description": "Table name, taken literally.",
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


def database_path(context: ConnectorContext, params: Mapping[str, Any]) -> Path:
    """The resolved database file of a connection; ConnectionTestFailed if outside the roots."""
    try:
        return resolve_inside_roots(str(params.get("path", "")), context.allowed_file_roots)
    except PathOutsideRootsError as error:
        raise ConnectionTestFailed(str(error)) from None


def read_only_uri(path: Path) -> str:
    """The sqlite3 URI that opens `path` read-only and never creates it."""
    return f"{path.as_uri()}?mode=ro"


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Open the file read-only and read its schema table."""
    path = database_path(context, params)
    shown = repr(str(path))
    if not path.is_file():
        raise ConnectionTestFailed(f"The SQLite file {shown} does not exist or is not a file.")
    try:
        with closing(sqlite3.connect(read_only_uri(path), uri=True, timeout=5)) as connection:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            raise ConnectionTestFailed(f"The file {shown} is not a SQLite database.") from None
        raise ConnectionTestFailed(f"Could not open the SQLite file {shown}: {error}.") from None


SPEC = ConnectionSpec(
    id="40a2e097-51aa-4ded-91a4-482c06367e24",
    name="SQLite",
    description="Tables of a SQLite database file on the Sluice server.",
    category="database",
    source_kind="table",
    auth_specs=(FILE_PATH_AUTH,),
    params_schema=TABLE_PARAMS_SCHEMA,
    tester=check_connection,
    validate_auth=database_path,
    open_source=open_source,
    check_delta_column=check_delta_column,
)
