"""The SQLite database-file connection spec: its schemas and its read-only test."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreError, ExploreItem, ObjectType
from sluice.connectors.paths import PathOutsideRootsError, resolve_inside_roots
from sluice.connectors.readers.sqlite import check_delta_column, list_tables, open_source
from sluice.connectors.registry import ConnectionSpec, ConnectionTestFailed, ConnectorContext
from sluice.connectors.specs.common import auth_spec, table_params_schema

FILE_PATH_AUTH = auth_spec(
    "File Path Authentication",
    "FilePath",
    {
        "path": {
            "type": "string",
            "minLength": 1,
            "description": "Absolute path of the file, inside an allowed folder.",
        },
    },
    ["path"],
)

TABLE_PARAMS_SCHEMA = table_params_schema(r"^[^\x00-\x1f]+$", "Table name, taken literally.")


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


def list_objects(
    context: ConnectorContext,
    params: Mapping[str, Any],
    object_type: ObjectType,
    place: str | None,
) -> list[ExploreItem]:
    """Root: the database's tables and views (SQLite has no schemas or folders)."""
    if object_type != "root":
        raise ExploreError(
            f"A SQLite database lists its tables at objectType=root; it has no {object_type}s."
        )
    return [
        ExploreItem("table", name, name, True, True)
        for name in list_tables(context, params, MAX_LISTED_OBJECTS)
    ]


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
    list_objects=list_objects,
)
