"""The MySQL / MariaDB tables connection spec: its auth and table params schemas.

No driver, no Arrow: the registry lists it without importing the connector (mysql/spec.py).
"""

from __future__ import annotations

from sluice.connectors.contract import ConnectionSpec
from sluice.connectors.spec_schemas import (
    database_basic_auth,
    database_connection_string_auth,
    table_params_schema,
)

DEFAULT_PORT = 3306
SSL_MODES = ("DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")
# `tableName` of a source connection: `table` or `database.table`, each part taken literally.
TABLE_NAME_PATTERN = r"^[^.\x00-\x1f]+(\.[^.\x00-\x1f]+)?$"


CONNECTION_STRING_AUTH = database_connection_string_auth(
    "A MySQL URL: mysql://user:password@host:3306/database (optionally ?ssl-mode=REQUIRED).",
    "Must set host, database and user; URL-escape special characters.",
)

BASIC_AUTH = database_basic_auth(DEFAULT_PORT, SSL_MODES, "PREFERRED")

TABLE_PARAMS_SCHEMA = table_params_schema(
    TABLE_NAME_PATTERN, "`table` or `database.table`, each part taken literally."
)


SPEC = ConnectionSpec(
    id="5c3f6a0e-9b1d-4e8a-a7c2-3d4f1e2b6a90",
    name="MySQL",
    description="Tables of a MySQL or MariaDB database.",
    category="database",
    source_kind="table",
    auth_specs=(CONNECTION_STRING_AUTH, BASIC_AUTH),
    params_schema=TABLE_PARAMS_SCHEMA,
)
