"""The SQLite database file of a connection: resolved inside the allowed roots, opened
read-only through ADBC (never created), and its driver errors as read errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import adbc_driver_manager
import adbc_driver_sqlite.dbapi as adbc_sqlite

from sluice.connectors.batching import one_line
from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import (
    ConnectionTestFailed,
    SourceReadError,
    TerminalReadError,
    read_error_type,
)
from sluice.connectors.paths import PathOutsideRootsError, resolve_inside_roots


def database_path(context: ConnectorContext, params: Mapping[str, Any]) -> Path:
    """The resolved database file of a connection; ConnectionTestFailed if outside the roots."""
    try:
        return resolve_inside_roots(str(params.get("path", "")), context.allowed_file_roots)
    except PathOutsideRootsError as error:
        raise ConnectionTestFailed(str(error)) from None


def read_only_uri(path: Path) -> str:
    """The sqlite3 URI that opens `path` read-only and never creates it."""
    return f"{path.as_uri()}?mode=ro"


def connect(context: ConnectorContext, auth: Mapping[str, Any]) -> tuple[Any, Path]:
    try:
        path = database_path(context, auth)
    except ConnectionTestFailed as error:
        raise TerminalReadError(error.message) from None
    if not path.is_file():
        raise TerminalReadError(f"The SQLite file {str(path)!r} does not exist or is not a file.")
    try:
        return adbc_sqlite.connect(read_only_uri(path), autocommit=True), path
    except adbc_driver_manager.Error as error:
        raise read_error(error, f"Could not open the SQLite file {str(path)!r}") from None


def read_error(error: BaseException, what: str) -> SourceReadError:
    text = str(error)
    lowered = text.lower()
    transient = "locked" in lowered or "busy" in lowered
    return read_error_type(transient)(f"{what}: {one_line(text)}")


# What explore lists: the tables and views, not SQLite's own (`sqlite_%`).
LIST_TABLES_SQL = (
    "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')"
    " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name LIMIT ?"
)


def list_tables(context: ConnectorContext, auth: Mapping[str, Any], cap: int) -> list[str]:
    """The names of the database's tables and views, at most `cap`, in name order."""
    connection, path = connect(context, auth)
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(LIST_TABLES_SQL, (cap,))
            return [str(name) for name, _type in cursor.fetchall()]
        finally:
            cursor.close()
    except adbc_driver_manager.Error as error:
        raise read_error(error, f"Could not list the tables of {str(path)!r}") from None
    finally:
        connection.close()
