"""The Azure Blob Storage connection spec: a connection string or an account key, and a container.

No driver, no Arrow: the registry lists it without importing the connector (files/azure_blob.py).
"""

from __future__ import annotations

from typing import Any

from sluice.connectors.files.file_spec import file_connection_spec
from sluice.connectors.spec_schemas import auth_spec

_CONTAINER = r"^(\$root|[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9])$"

_LOCATION_PROPERTIES: dict[str, Any] = {
    "container": {
        "type": "string",
        "pattern": _CONTAINER,
        "description": "The container files are read from; without it, paths start with the"
        " container.",
    },
    "folderPath": {
        "type": "string",
        # No ".." segment: the root stays inside the container.
        "pattern": r"^(?!(.*/)?\.\.(/|$))",
        "description": "A folder inside the container that all paths are taken from.",
    },
}

CONNECTION_STRING_AUTH = auth_spec(
    "Connection String Authentication",
    "ConnectionString",
    {
        "connectionString": {
            "type": "string",
            "format": "password",
            "minLength": 1,
            "description": "DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;"
            "EndpointSuffix=core.windows.net (or with a SharedAccessSignature).",
        },
        **_LOCATION_PROPERTIES,
    },
    ["connectionString"],
)

ACCOUNT_KEY_AUTH = auth_spec(
    "Account Key Authentication",
    "AccountKey",
    {
        "accountName": {"type": "string", "pattern": r"^[a-z0-9]{3,24}$"},
        "accountKey": {
            "type": "string",
            "format": "password",
            "pattern": r"^[A-Za-z0-9+/=]+$",
        },
        "blobEndpoint": {
            "type": "string",
            "pattern": r"^https?://[^;\s]+$",
            "description": "The blob service URL, for an emulator or a sovereign cloud;"
            " default https://{accountName}.blob.core.windows.net.",
        },
        **_LOCATION_PROPERTIES,
    },
    ["accountName", "accountKey"],
)


SPEC = file_connection_spec(
    id="4c10e202-c428-4796-9208-5f1f5732b1cf",
    name="Azure Blob Storage",
    description="Delimited, JSON and Parquet files in Azure Blob Storage.",
    auth_specs=(CONNECTION_STRING_AUTH, ACCOUNT_KEY_AUTH),
)
