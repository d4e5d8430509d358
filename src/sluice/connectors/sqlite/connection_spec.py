"""The SQLite database-file connection spec: its auth and table params schemas.

No driver, no Arrow: the registry lists it without importing the connector (sqlite/spec.py).
"""

from __future__ import annotations

from sluice.connectors.contract import ConnectionSpec
from sluice.connectors.spec_schemas import auth_spec, table_params_schema

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


SPEC = ConnectionSpec(
    id="40a2e097-51aa-4ded-91a4-482c06367e24",
    name="SQLite",
    description="Tables of a SQLite database file on the Sluice server.",
    category="database",
    source_kind="table",
    auth_specs=(FILE_PATH_AUTH,),
    params_schema=TABLE_PARAMS_SCHEMA,
)
