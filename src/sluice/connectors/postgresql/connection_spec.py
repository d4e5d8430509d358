"""The PostgreSQL tables connection spec: its auth and table params schemas.

No driver, no Arrow: the registry lists it without importing the connector (postgresql/spec.py).
"""

from __future__ import annotations

from sluice.connectors.contract import ConnectionSpec
from sluice.connectors.spec_schemas import (
    database_basic_auth,
    database_connection_string_auth,
    table_params_schema,
)

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


SPEC = ConnectionSpec(
    id="1bed8a75-0487-4216-85f5-94ddf2058992",
    name="PostgreSQL",
    description="Tables of a PostgreSQL database.",
    category="database",
    source_kind="table",
    auth_specs=(CONNECTION_STRING_AUTH, BASIC_AUTH),
    params_schema=TABLE_PARAMS_SCHEMA,
    consistent_parts=True,  # the parts import the snapshot the window's count was made in
)
