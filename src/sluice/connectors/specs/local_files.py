"""The local-folder files connection spec: its schemas and its folder test."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sluice.connectors.paths import PathOutsideRootsError, resolve_inside_roots
from sluice.connectors.readers.files import open_source
from sluice.connectors.registry import (
    AuthSpec,
    ConnectionSpec,
    ConnectionTestFailed,
    ConnectorContext,
)

LOCAL_FOLDER_AUTH = AuthSpec(
    name="Local Folder Authentication",
    type="LocalFolder",
    schema={
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "rootPath": {
                "type": "string",
                "minLength": 1,
                "description": "Absolute path of a folder, inside an allowed folder.",
            },
        },
        "required": ["rootPath"],
        "additionalProperties": False,
    },
)

FILE_PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            # No ".." segment: the path stays under rootPath (readers still re-check it).
            "pattern": r"^(?!(.*/)?\.\.(/|$))",
            "description": "File, folder or glob under rootPath; a leading / is rootPath.",
        },
        "recursive": {
            "type": ["boolean", "string"],
            "enum": [True, False, "true", "false"],
            "default": False,
        },
    },
    "required": ["path"],
}

FILE_DATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "format": {"type": "string", "enum": ["delimited", "json", "parquet"]},
        "columnDelimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ","},
        "header": {"type": "boolean", "default": True},
        "properties": {
            "type": "object",
            "properties": {
                "compressionType": {
                    "type": "string",
                    "enum": ["bzip2", "gzip", "deflate", "zipDeflate", "tarGzip", "tar"],
                },
            },
        },
    },
    "required": ["format"],
}


def root_folder(context: ConnectorContext, params: Mapping[str, Any]) -> Path:
    """The resolved root folder of a connection; ConnectionTestFailed if outside the roots."""
    try:
        return resolve_inside_roots(str(params.get("rootPath", "")), context.allowed_file_roots)
    except PathOutsideRootsError as error:
        raise ConnectionTestFailed(str(error)) from None


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """The root folder exists, is a folder, and the server can list it."""
    folder = root_folder(context, params)
    if not folder.exists():
        raise ConnectionTestFailed(f"The folder {str(folder)!r} does not exist.")
    if not folder.is_dir():
        raise ConnectionTestFailed(f"{str(folder)!r} is a file, not a folder.")
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
    except OSError as error:
        raise ConnectionTestFailed(
            f"The Sluice server cannot read the folder {str(folder)!r}: {error.strerror}."
        ) from None


SPEC = ConnectionSpec(
    id="bc3ffdcf-1b46-41ec-b156-a8c195929f8a",
    name="Local Files",
    description="Delimited, JSON and Parquet files in a folder on the Sluice server.",
    category="cloudStorage",
    source_kind="file",
    auth_specs=(LOCAL_FOLDER_AUTH,),
    params_schema=FILE_PARAMS_SCHEMA,
    tester=check_connection,
    validate_auth=root_folder,
    data_schema=FILE_DATA_SCHEMA,
    open_source=open_source,
)
