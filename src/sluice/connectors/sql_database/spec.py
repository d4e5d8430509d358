"""The "SQL Database (SQLAlchemy)" connector: any database whose SQLAlchemy driver is on the
allow list, named by one URL; its test, its explorer and its reads (its spec:
sluice.connectors.sql_database.connection_spec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import (
    ConnectionTestFailed,
    ExploreError,
    SourceReadError,
    read_error_type,
)
from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreItem, ObjectType
from sluice.connectors.sql_database.connection import (
    DatabaseUrl,
    check_host,
    connect,
    describe,
    is_transient,
    parse_url,
)
from sluice.connectors.sql_database.connection_spec import SPEC
from sluice.connectors.sql_database.reader import check_delta_column, open_source

# Schemas of the servers themselves, never a tenant's data.
SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "mysql", "performance_schema", "sys"}
)


def validate_url(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Refuse a URL Sluice will never open (driver, options, SQLite path, a host the guard
    refuses) when the connection is created or patched, before any test."""
    check_host(context, parse_url(context, params))


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Connect (after the host guard) and run `SELECT 1`; no message holds the password."""
    database_url = parse_url(context, params)
    connection = connect(context, database_url)
    failure: str | None = None
    try:
        connection.execute(sa.text("SELECT 1")).all()
    except SQLAlchemyError as error:
        failure = "The database refused a query: " + describe(error, database_url.secrets)
    finally:
        _release(connection)
    if failure is not None:
        raise ConnectionTestFailed(failure)


def list_objects(
    context: ConnectorContext,
    params: Mapping[str, Any],
    object_type: ObjectType,
    place: str | None,
) -> list[ExploreItem]:
    """The schemas (root; the tables directly on SQLite), or the tables and views of one."""
    if object_type not in ("root", "schema"):
        raise ExploreError(
            "A SQL database connection lists its schemas (objectType=root) and the tables of"
            f" one schema (objectType=schema); it cannot list objectType={object_type}."
        )
    if object_type == "schema" and not place:
        raise ExploreError("Listing a schema needs `object`, the schema name.")
    database_url = parse_url(context, params)
    connection = connect(context, database_url)
    try:
        inspector = sa.inspect(connection)
        if object_type == "root" and database_url.dialect == "sqlite":
            return _tables(inspector, None)
        schemas = [s for s in inspector.get_schema_names() if s not in SYSTEM_SCHEMAS]
        if object_type == "root":
            return [ExploreItem.for_schema(s) for s in sorted(schemas)[:MAX_LISTED_OBJECTS]]
        if place not in schemas:
            raise ExploreError(f"The schema {place!r} does not exist or is not visible.")
        return _tables(inspector, place)
    except SQLAlchemyError as error:
        raise _listing_error(error, database_url) from None
    finally:
        _release(connection)


def _tables(inspector: Any, schema: str | None) -> list[ExploreItem]:
    names = sorted({*inspector.get_table_names(schema), *inspector.get_view_names(schema)})
    return [ExploreItem.for_table(name, schema) for name in names[:MAX_LISTED_OBJECTS]]


def _listing_error(error: BaseException, database_url: DatabaseUrl) -> SourceReadError:
    message = "Could not list the database's objects: " + describe(error, database_url.secrets)
    return read_error_type(is_transient(error))(message)


def _release(connection: sa.Connection) -> None:
    try:
        connection.close()
    finally:
        connection.engine.dispose()


CONNECTOR = FunctionConnector(
    SPEC,
    test_connection=check_connection,
    validate_params=validate_url,
    lister=list_objects,
    opener=open_source,
    delta_checker=check_delta_column,
)
