"""The local-folder files connector: a folder on the Sluice server, inside the roots
the operator allows (`SLUICE_ALLOWED_FILE_ROOTS`), read through fsspec's LocalFileSystem."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed
from sluice.connectors.files.connector import (
    file_connector,
)
from sluice.connectors.files.local_spec import SPEC
from sluice.connectors.files.location import FileLocation
from sluice.connectors.paths import PathOutsideRootsError, resolve_inside_roots


def root_folder(context: ConnectorContext, params: Mapping[str, Any]) -> Path:
    """The resolved root folder of a connection; ConnectionTestFailed if outside the roots."""
    try:
        return resolve_inside_roots(str(params.get("rootPath", "")), context.allowed_file_roots)
    except PathOutsideRootsError as error:
        raise ConnectionTestFailed(str(error)) from None


def open_local_folder(context: ConnectorContext, params: Mapping[str, Any]) -> FileLocation:
    """The connection's folder, resolved (symlinks followed) and checked against the roots."""
    folder = root_folder(context, params).as_posix()
    return FileLocation(fs=LocalFileSystem(), root=folder, display=folder)


CONNECTOR = file_connector(
    SPEC,
    opener=open_local_folder,
    validate_auth=root_folder,
)
