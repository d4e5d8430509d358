"""What the specs of every file connector share: the source params and data, the formats and
compressions, and `file_connection_spec`.

No driver and no Arrow: the registry lists the file connectors' specs (the `*_spec` modules
here) without importing the connectors, which load with their first call.
"""

from __future__ import annotations

from typing import Any

from sluice.connectors.contract import AuthSpec, ConnectionSpec

FORMATS = ("delimited", "json", "parquet")
COMPRESSIONS = ("gzip", "bzip2", "deflate", "zipDeflate", "tar", "tarGzip")

# The source connection `params` and `data` of every file connector (`ConnectionSpec.
# params_schema` and `data_schema`).
FILE_PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            # No ".." segment: the path stays under the root (readers still re-check it).
            "pattern": r"^(?!(.*/)?\.\.(/|$))",
            "description": "File, folder or glob under the connection's root; a leading / is"
            " the root.",
        },
        "recursive": {
            "type": ["boolean", "string"],
            "enum": [True, False, "true", "false"],
            "default": False,
        },
    },
    "required": ["path"],
}

_ONE_CHARACTER: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 1}

FILE_DATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "format": {"type": "string", "enum": list(FORMATS)},
        "columnDelimiter": {**_ONE_CHARACTER, "default": ","},
        "quoteChar": {**_ONE_CHARACTER, "default": '"'},
        "escapeChar": _ONE_CHARACTER,
        "header": {
            "type": ["boolean", "string"],
            "enum": [True, False, "true", "false"],
            "default": True,
        },
        "properties": {
            "type": "object",
            "properties": {
                "compressionType": {"type": "string", "enum": list(COMPRESSIONS)},
            },
        },
    },
    "required": ["format"],
}


def file_connection_spec(
    *, id: str, name: str, description: str, auth_specs: tuple[AuthSpec, ...]
) -> ConnectionSpec:
    """The spec of a file connector: its own auth, the params and data every file connector
    shares."""
    return ConnectionSpec(
        id=id,
        name=name,
        description=description,
        category="cloudStorage",
        source_kind="file",
        auth_specs=auth_specs,
        params_schema=FILE_PARAMS_SCHEMA,
        data_schema=FILE_DATA_SCHEMA,
        consistent_parts=True,  # the run's files are listed once, before any is read
        parts_per_core=1.0,  # all the work of a part is parsing, here
    )
