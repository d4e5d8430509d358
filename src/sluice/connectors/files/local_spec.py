"""The Local Files connection spec: a folder on the Sluice server, inside an allowed folder.

No driver, no Arrow: the registry lists it without importing the connector (files/local.py).
"""

from __future__ import annotations

from sluice.connectors.files.file_spec import file_connection_spec
from sluice.connectors.spec_schemas import auth_spec

LOCAL_FOLDER_AUTH = auth_spec(
    "Local Folder Authentication",
    "LocalFolder",
    {
        "rootPath": {
            "type": "string",
            "minLength": 1,
            "description": "Absolute path of a folder, inside an allowed folder.",
        },
    },
    ["rootPath"],
)


SPEC = file_connection_spec(
    id="bc3ffdcf-1b46-41ec-b156-a8c195929f8a",
    name="Local Files",
    description="Delimited, JSON and Parquet files in a folder on the Sluice server.",
    auth_specs=(LOCAL_FOLDER_AUTH,),
)
