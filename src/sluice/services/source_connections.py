"""Source connections: what to read (a table, or files in a format) via a base connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sluice.connectors.contract import ConnectionSpec, ConnectorContext
from sluice.domain.errors import bad_request
from sluice.domain.tenancy import Tenant
from sluice.schemas.connections import SourceConnectionCreate
from sluice.security.encryption import SecretBox
from sluice.services import flow_connections
from sluice.services.connections import connections
from sluice.services.source_checks import check_source_exists
from sluice.services.validation import validate_against
from sluice.store.flow_endpoints import full_auth_params, require_connector, require_spec
from sluice.store.list_query_sql import ColumnField, ResourceFields, system_fields
from sluice.store.models import FlowSourceConnection, SourceConnection
from sluice.store.resources import ResourceRepository


@dataclass(frozen=True)
class SourceChecker:
    """What checking a source at create time needs: the connectors' context and the key box
    that opens the base connection's secrets."""

    context: ConnectorContext
    box: SecretBox


FIELDS = ResourceFields(
    model=SourceConnection,
    columns={
        **system_fields(SourceConnection),
        "connectionSpec.id": ColumnField(SourceConnection.connection_spec_id),
        "baseConnectionId": ColumnField(SourceConnection.base_connection_id),
    },
    document_fields=frozenset({"description", "data", "params", "connectionSpec"}),
)
source_connections = ResourceRepository(SourceConnection, "sourceConnections", FIELDS)
FILE_FORMATS = ("delimited", "json", "parquet")


def validated_base_connection(
    session: Session, tenant: Tenant, spec: ConnectionSpec, base_connection_id: str | None
) -> str | None:
    """The base connection must exist in this tenant and be of the same connection spec."""
    if base_connection_id is None:
        if spec.auth_specs:
            raise bad_request(
                1000,
                f"baseConnectionId is required for connection spec "
                f"'{spec.name}': create a connection first.",
            )
        return None
    base = connections.find(session, tenant, base_connection_id)
    if base is None:
        raise bad_request(1439, f"Base connection {base_connection_id} is not found.")
    if base.connection_spec_id != spec.id:
        raise bad_request(
            1000,
            f"Base connection {base_connection_id} is of another connection "
            f"spec; source and base connection must share connectionSpec.id.",
        )
    return base.id


def _validated_data(spec: ConnectionSpec, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if spec.source_kind == "table":
        data.setdefault("format", "tabular")
        if data["format"] != "tabular":
            raise bad_request(1000, "data.format must be 'tabular' for table-based sources.")
        return data
    if data.get("format") not in FILE_FORMATS:
        raise bad_request(
            1000, f"data.format must be one of {', '.join(FILE_FORMATS)} for file-based sources."
        )
    delimiter = data.get("columnDelimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise bad_request(1331, "data.columnDelimiter must be a single character.")
    if spec.data_schema:
        validate_against(spec.data_schema, data, "data")
    return data


def _validated(
    session: Session, tenant: Tenant, body: SourceConnectionCreate
) -> tuple[ConnectionSpec, str | None, dict[str, Any]]:
    spec = require_spec(body.connection_spec.id)
    if spec.source_kind not in ("table", "file"):
        raise bad_request(1413, f"Connection spec '{spec.name}' is not a source.")
    base_id = validated_base_connection(session, tenant, spec, body.base_connection_id)
    data = _validated_data(spec, body.data)
    validate_against(spec.params_schema, body.params, "params")
    return spec, base_id, flow_connections.end_document(body, spec, data)


def _checked_source(
    session: Session,
    tenant: Tenant,
    checker: SourceChecker,
    spec: ConnectionSpec,
    base_id: str | None,
    doc: dict[str, Any],
) -> dict[str, Any]:
    """`doc` with `sourceCheck`: FLOW-1493-400 if the source is reachable and its table or
    path does not exist; a warning kept on the connection if it could not be checked."""
    auth: dict[str, Any] = {}
    if base_id is not None:
        auth = full_auth_params(connections.get(session, tenant, base_id), checker.box)
    source = {"data": doc["data"], "params": doc["params"]}
    warning = check_source_exists(checker.context, require_connector(spec.id), auth, source)
    return {**doc, "sourceCheck": {"checked": warning is None, "warning": warning}}


def source_check_warnings(row: SourceConnection) -> list[str]:
    """The warning of the create-time check, for the create response."""
    warning = (row.doc.get("sourceCheck") or {}).get("warning")
    return [warning] if warning else []


def create_source_connection(
    session: Session, tenant: Tenant, body: SourceConnectionCreate, checker: SourceChecker
) -> SourceConnection:
    spec, base_id, doc = _validated(session, tenant, body)
    doc = _checked_source(session, tenant, checker, spec, base_id, doc)
    return source_connections.add(
        session, tenant, body.name, doc, connection_spec_id=spec.id, base_connection_id=base_id
    )


def render_source_connection(row: SourceConnection, tenant: Tenant) -> dict[str, Any]:
    return flow_connections.render_end(row, tenant, "/sourceConnections")


def patch_source_connection(
    session: Session,
    tenant: Tenant,
    checker: SourceChecker,
    source_id: str,
    operations: object,
    if_match: str | None,
) -> SourceConnection:
    row, body = flow_connections.patched_body(
        session,
        tenant,
        source_connections,
        SourceConnectionCreate,
        source_id,
        operations,
        if_match,
    )
    spec, base_id, doc = _validated(session, tenant, body)
    if doc["params"] != row.doc.get("params") or doc["data"] != row.doc.get("data"):
        doc = _checked_source(session, tenant, checker, spec, base_id, doc)
    elif "sourceCheck" in row.doc:
        doc["sourceCheck"] = row.doc["sourceCheck"]
    return flow_connections.store_patched(session, tenant, source_connections, row, body.name, doc)


def delete_source_connection(session: Session, tenant: Tenant, source_id: str) -> None:
    flow_connections.delete_unless_used(
        session,
        tenant,
        source_connections,
        source_id,
        FlowSourceConnection.source_connection_id,
        FlowSourceConnection.flow_id,
        "read from",
    )
