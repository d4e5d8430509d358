"""The PostgreSQL tables connector: its connection test, its listing and its reads (its spec:
sluice.connectors.postgresql.connection_spec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import ConnectionTestFailed, ExploreError, SourceReadError
from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreItem, ObjectType
from sluice.connectors.postgresql.catalog import (
    LIST_SCHEMAS_SQL,
    LIST_TABLES_SQL,
    SCHEMA_EXISTS_SQL,
)
from sluice.connectors.postgresql.connection import fetch, validate_auth
from sluice.connectors.postgresql.connection_spec import SPEC
from sluice.connectors.postgresql.reader import check_delta_column, open_source


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """Connect and run `SELECT 1`; the failure message never holds the password."""
    try:
        fetch(context, params, "SELECT 1")
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
        rows = fetch(context, params, LIST_SCHEMAS_SQL, (MAX_LISTED_OBJECTS,))
        return [ExploreItem.for_schema(name) for (name,) in rows]
    if object_type != "schema":
        raise ExploreError(
            f"PostgreSQL connections list schemas (objectType=root) and their tables"
            f" (objectType=schema), not objectType={object_type}."
        )
    schema = place or ""
    rows = fetch(context, params, LIST_TABLES_SQL, (schema, MAX_LISTED_OBJECTS))
    if not rows and not fetch(context, params, SCHEMA_EXISTS_SQL, (schema,)):
        raise ExploreError(f"The schema {schema!r} does not exist.")
    return [ExploreItem.for_table(name, schema) for name, _kind in rows]


CONNECTOR = FunctionConnector(
    SPEC,
    test_connection=check_connection,
    lister=list_objects,
    opener=open_source,
    delta_checker=check_delta_column,
    validate_params=validate_auth,
)
