"""The MySQL / MariaDB tables connector: its test, its explorer and its reads (its spec:
sluice.connectors.mysql.connection_spec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pymysql

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import (
    ConnectionTestFailed,
    ExploreError,
    SourceReadError,
    read_error_type,
)
from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreItem, ObjectType
from sluice.connectors.mysql.connection_spec import SPEC
from sluice.connectors.mysql.reader import check_delta_column, open_source
from sluice.connectors.mysql.session import (
    MysqlSettings,
    connect,
    describe,
    is_transient,
    settings_from_params,
)

# Databases of the server itself, never a tenant's data.
SYSTEM_DATABASES = ("information_schema", "mysql", "performance_schema", "sys")


def validate_settings(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Refuse params Sluice will never connect with (a malformed or unsafe connection string,
    a socket path) when the connection is created, before any test."""
    settings_from_params(params)


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Connect (after the host guard) and run `SELECT 1`; no message holds the password."""
    settings = settings_from_params(params)
    connection = connect(context, settings)
    failure: str | None = None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchall()
    except pymysql.MySQLError as error:
        failure = "MySQL refused a query: " + describe(error, settings.secrets)
    finally:
        connection.close()
    if failure is not None:
        raise ConnectionTestFailed(failure)


_LIST_DATABASES_SQL = (
    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA"
    " WHERE SCHEMA_NAME NOT IN (%s, %s, %s, %s) ORDER BY SCHEMA_NAME LIMIT %s"
)
_DATABASE_EXISTS_SQL = "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s"
_LIST_TABLES_SQL = (
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s"
    " ORDER BY TABLE_NAME LIMIT %s"
)


def list_objects(
    context: ConnectorContext,
    params: Mapping[str, Any],
    object_type: ObjectType,
    place: str | None,
) -> list[ExploreItem]:
    """The databases the user sees (root), or the tables and views of one database."""
    if object_type not in ("root", "schema"):
        raise ExploreError(
            f"A MySQL connection lists its databases (objectType=root) and the tables of one"
            f" database (objectType=schema); it cannot list objectType={object_type}."
        )
    if object_type == "schema" and not place:
        raise ExploreError("Listing a schema needs `object`, the database name.")
    settings = settings_from_params(params)
    connection = connect(context, settings)
    try:
        with connection.cursor() as cursor:
            if object_type == "root":
                cursor.execute(_LIST_DATABASES_SQL, (*SYSTEM_DATABASES, MAX_LISTED_OBJECTS))
                return [ExploreItem.for_schema(str(row[0])) for row in cursor.fetchall()]
            assert place is not None
            cursor.execute(_DATABASE_EXISTS_SQL, (place,))
            if not cursor.fetchall():
                raise ExploreError(f"The database {place!r} does not exist or is not visible.")
            cursor.execute(_LIST_TABLES_SQL, (place, MAX_LISTED_OBJECTS))
            return [ExploreItem.for_table(str(row[0]), place) for row in cursor.fetchall()]
    except pymysql.MySQLError as error:
        raise _listing_error(error, settings) from None
    finally:
        connection.close()


def _listing_error(error: BaseException, settings: MysqlSettings) -> SourceReadError:
    message = "Could not list the MySQL objects: " + describe(error, settings.secrets)
    return read_error_type(is_transient(error))(message)


CONNECTOR = FunctionConnector(
    SPEC,
    test_connection=check_connection,
    validate_params=validate_settings,
    lister=list_objects,
    opener=open_source,
    delta_checker=check_delta_column,
)
