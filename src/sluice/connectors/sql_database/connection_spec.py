"""The "SQL Database (SQLAlchemy)" connection spec: its URL auth and table params schemas.

No driver, no Arrow: the registry lists it without importing the connector (sql_database/spec.py).
"""

from __future__ import annotations

from sluice.connectors.contract import ConnectionSpec
from sluice.connectors.mysql.connection_spec import TABLE_NAME_PATTERN
from sluice.connectors.spec_schemas import auth_spec, table_params_schema

ALLOWED_DRIVERS = ("postgresql+psycopg", "mysql+pymysql", "mariadb+pymysql", "sqlite")


URL_AUTH = auth_spec(
    "SQLAlchemy URL Authentication",
    "SqlAlchemyUrl",
    {
        "url": {
            "type": "string",
            "format": "password",
            "minLength": 1,
            "description": "URL-escape special characters of the user and password.",
        },
    },
    ["url"],
    description="A SQLAlchemy URL, dialect+driver://user:password@host:port/database;"
    f" drivers allowed: {', '.join(ALLOWED_DRIVERS)}. SQLite files (sqlite:////abs/path.db)"
    " must lie in a folder the operator allows.",
)

TABLE_PARAMS_SCHEMA = table_params_schema(
    TABLE_NAME_PATTERN, "`table` or `schema.table`, each part taken literally."
)


SPEC = ConnectionSpec(
    id="8e1d2c47-6a3b-4f5e-9c0d-7b2a1f4e3d56",
    name="SQL Database (SQLAlchemy)",
    description="Tables of any database SQLAlchemy reaches with an allowed driver"
    f" ({', '.join(ALLOWED_DRIVERS)}).",
    category="database",
    source_kind="table",
    auth_specs=(URL_AUTH,),
    params_schema=TABLE_PARAMS_SCHEMA,
)
