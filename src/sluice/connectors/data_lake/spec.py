"""The data-lake target connection spec (the reference's ID) and its writability test."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sluice.connectors.contract import ConnectionSpec, ConnectorContext, FunctionConnector
from sluice.connectors.errors import ConnectionTestFailed
from sluice.lake.location import LakeLocation

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
    """The lake takes a file: a local folder exists (or can be created) and is writable; an
    object store (SLUICE_LAKE_URI) accepts, then deletes, a probe object under its root."""
    lake = context.lake
    if lake is None or lake.is_local:
        folder = Path(lake.root.removeprefix("file://")) if lake is not None else context.lake_dir
        _probe_folder(folder)
    else:
        _probe_object_store(lake)


def _probe_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".sluice-probe-"):
            pass  # created, then removed on close
    except OSError as error:
        raise ConnectionTestFailed(
            f"The data lake folder {str(folder)!r} cannot be created or written"
            f" ({error.strerror}). Check SLUICE_DATA_DIR and its permissions."
        ) from None


def _probe_object_store(lake: LakeLocation) -> None:
    try:
        fs, _ = lake.filesystem()
        path = lake.fs_path(lake.table_uri(f".sluice-probe-{uuid.uuid4().hex}"))
        fs.pipe(path, b"")
        fs.rm(path)
    except Exception as error:
        # The root URI names no credential; the error's type says what kind of failure.
        raise ConnectionTestFailed(
            f"The data lake {lake.root!r} does not take a file ({type(error).__name__}). "
            "Check SLUICE_LAKE_URI, the bucket or container, and the lake's credentials."
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
