"""Exploring a connection: listing what it reaches, and previewing one table or file.

Listings call the connector's `explore`. Previews (and schema-only requests) open its reader
(`Connector.read`) on a source built from the explored object with `ReadRequest(window=None,
limit=n)`, so a preview reads exactly as a run would, and name the column types as the dataset
catalog does. Everything here does blocking I/O: call it from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.orm import Session

from sluice.connectors.contract import Connector, ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, ExploreError, SourceReadError
from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ObjectType
from sluice.connectors.reading import ReadRequest
from sluice.domain.errors import bad_request
from sluice.domain.secrets import redact
from sluice.domain.tenancy import Tenant
from sluice.security.encryption import SecretBox
from sluice.services.connections import connections
from sluice.store.flow_endpoints import full_auth_params, require_connector

DEFAULT_PREVIEW_ROWS = 100
MAX_PREVIEW_ROWS = 1000
_LISTED_TYPES = ("root", "schema", "folder")
_OBJECT_TYPES = (*_LISTED_TYPES, "table", "file", "rest")
_FILE_TYPES = ("delimited", "json", "parquet")
_SUFFIX_FILE_TYPES = {".parquet": "parquet", ".json": "json", ".jsonl": "json"}


@dataclass(frozen=True)
class ExploreQuery:
    """The query parameters of `GET /connections/{id}/explore`, as sent."""

    object_type: str | None = None
    object: str | None = None
    preview: bool = False
    preview_rows: int = DEFAULT_PREVIEW_ROWS
    file_type: str | None = None
    column_delimiter: str | None = None
    compression_type: str | None = None
    header: bool | None = None


class ConnectorProblem(Exception):  # noqa: N818 - reads as what the caller gets back
    """The source said no (or could not be reached): a problem document whose `type` ends in
    the connector code `CONNECTOR-{n}-{status}`. The message holds no secret."""

    def __init__(self, code: str, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.title = title
        self.message = message


def explore(
    session: Session,
    tenant: Tenant,
    box: SecretBox,
    context: ConnectorContext,
    connection_id: str,
    query: ExploreQuery,
) -> list[dict[str, Any]] | dict[str, Any]:
    """The listing (a list of items) or the flat preview document the query asks for."""
    row = connections.get(session, tenant, connection_id)
    connector = require_connector(row.connection_spec_id)
    spec = connector.spec
    object_type = _object_type(query)
    if spec.source_kind == "target":
        raise bad_request(
            1000, f"Connections of spec '{spec.name}' cannot be explored.", id=connection_id
        )
    auth = full_auth_params(row, box)
    secrets = [str(v) for v in box.open(row.sealed_secrets).values() if v]
    try:
        if object_type in _LISTED_TYPES:
            place = None if object_type == "root" else query.object
            items = connector.explore(context, auth, object_type, place)
            return [item.to_wire() for item in items[:MAX_LISTED_OBJECTS]]
        return _flat_preview(connector, context, auth, object_type, query)
    except ExploreError as error:
        message = _redact(error.message, secrets)
        raise ConnectorProblem(error.code, 400, "Bad request", message) from None
    except ConnectionTestFailed as error:
        raise ConnectorProblem(
            "CONNECTOR-1001-400", 400, "Connection failed", _redact(str(error), secrets)
        ) from None
    except SourceReadError as error:
        raise _read_problem(error, secrets) from None


def _object_type(query: ExploreQuery) -> ObjectType:
    """The query's objectType (any case; root when absent), checked against its object."""
    object_type = (query.object_type or "root").strip().lower()
    if object_type not in _OBJECT_TYPES:
        raise bad_request(
            1000,
            f"Unknown objectType '{query.object_type}'; use one of {', '.join(_OBJECT_TYPES)}.",
        )
    if object_type != "root" and not (query.object or "").strip():
        raise bad_request(1000, f"objectType={object_type} needs the object to explore.")
    if query.preview and object_type in _LISTED_TYPES:
        raise bad_request(1000, "preview=true needs objectType table, file or rest.")
    if not 1 <= query.preview_rows <= MAX_PREVIEW_ROWS:
        raise bad_request(1000, f"previewRows must be between 1 and {MAX_PREVIEW_ROWS}.")
    return cast(ObjectType, object_type)


def _flat_preview(
    connector: Connector,
    context: ConnectorContext,
    auth: dict[str, Any],
    object_type: ObjectType,
    query: ExploreQuery,
) -> dict[str, Any]:
    """Columns and (with preview=true) up to `preview_rows` rows of one table or file."""
    # Here: Arrow loads with the first preview, not with the API (listings need none of it).
    from sluice.services.source_preview import flat_document

    limit = query.preview_rows if query.preview else 1
    source = _source_of(object_type, query)
    read = connector.read(context, auth, source, ReadRequest(window=None, limit=limit))
    return flat_document(read, limit if query.preview else 0)


def _source_of(object_type: ObjectType, query: ExploreQuery) -> dict[str, Any]:
    """The source connection `{data, params}` a run of this object would read."""
    name = str(query.object)
    if object_type != "file":
        return {"data": {"format": "tabular"}, "params": {"tableName": name}}
    file_type = (query.file_type or _file_type_of(name)).strip().lower()
    if file_type not in _FILE_TYPES:
        raise bad_request(
            1000, f"Unknown fileType '{query.file_type}'; use one of {', '.join(_FILE_TYPES)}."
        )
    data: dict[str, Any] = {"format": file_type}
    if query.column_delimiter is not None:
        data["columnDelimiter"] = query.column_delimiter
    if query.header is not None:
        data["header"] = query.header
    if query.compression_type:
        data["properties"] = {"compressionType": query.compression_type}
    return {"data": data, "params": {"path": name}}


def _file_type_of(path: str) -> str:
    """The format a file's name suggests (`.parquet`, `.json[l]`), else delimited."""
    stem = path.lower()
    for compressed in (".gz", ".bz2", ".zip"):
        stem = stem.removesuffix(compressed)
    suffix = stem[stem.rfind(".") :] if "." in stem else ""
    return _SUFFIX_FILE_TYPES.get(suffix, "delimited")


def _read_problem(error: SourceReadError, secrets: Iterable[str]) -> ConnectorProblem:
    """A transient failure (unreachable, busy) is the source's: 502; any other is 400."""
    number = error.code.split("-")[1] if error.code.count("-") == 2 else "1001"
    status = 502 if error.transient else 400
    title = "Source unreachable" if error.transient else "Source read failed"
    return ConnectorProblem(
        f"CONNECTOR-{number}-{status}", status, title, _redact(error.message, secrets)
    )


def _redact(message: str, secrets: Iterable[str]) -> str:
    """Connectors keep secrets out of their messages; this makes sure of it (secrets too short
    to be told apart from ordinary words are the connectors' own care)."""
    return redact(message, secrets)
