"""The data-lake target connection spec (the reference's ID) and its writability test."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

from sluice.connectors.contract import ConnectionSpec, ConnectorContext, FunctionConnector
from sluice.connectors.errors import ConnectionTestFailed

DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"

TARGET_PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"dataSetId": {"type": "string", "minLength": 1}},
    "required": ["dataSetId"],
}

TARGET_DATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "schema": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "version": {"type": "string"}},
        },
    },
}


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """The lake folder exists (or can be created) and takes a file."""
    try:
        context.lake_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=context.lake_dir, prefix=".sluice-probe-"):
            pass  # created, then removed on close
    except OSError as error:
        raise ConnectionTestFailed(
            f"The data lake folder {str(context.lake_dir)!r} cannot be created or written"
            f" ({error.strerror}). Check SLUICE_DATA_DIR and its permissions."
        ) from None


SPEC = ConnectionSpec(
    id=DATA_LAKE_SPEC_ID,
    name="Data Lake",
    description="Delta tables of the catalog's datasets, in the Sluice data lake.",
    category="dataLake",
    source_kind="target",
    auth_specs=(),
    params_schema=TARGET_PARAMS_SCHEMA,
    data_schema=TARGET_DATA_SCHEMA,
)

CONNECTOR = FunctionConnector(
    SPEC,
    test_connection=check_connection,
)
