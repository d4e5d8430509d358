"""The SQLite database-file connector: its read-only test, its listing and its reads (its spec:
sluice.connectors.sqlite.connection_spec)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from contextlib import closing
from typing import Any

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import ConnectionTestFailed, ExploreError
from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreItem, ObjectType
from sluice.connectors.sqlite.connection_spec import SPEC
from sluice.connectors.sqlite.database import database_path, list_tables, read_only_uri
from sluice.connectors.sqlite.reader import check_delta_column, open_source


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
        ExploreItem.for_table(name) for name in list_tables(context, params, MAX_LISTED_OBJECTS)
    ]


CONNECTOR = FunctionConnector(
    SPEC,
    test_connection=check_connection,
    validate_params=database_path,
    lister=list_objects,
    opener=open_source,
    delta_checker=check_delta_column,
)
