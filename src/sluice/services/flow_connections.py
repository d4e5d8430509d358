"""What source and target connections share: their wire view, PATCH and guarded delete."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from sluice.connectors.contract import ConnectionSpec
from sluice.domain.errors import ConflictError
from sluice.domain.patching import apply_operations, normalize_operations
from sluice.domain.tenancy import Tenant
from sluice.schemas.connections import SourceConnectionCreate, TargetConnectionCreate
from sluice.schemas.parsing import parse_model
from sluice.schemas.system_fields import system_view
from sluice.store.models import SourceConnection, TargetConnection
from sluice.store.resources import ResourceRepository

EndRow = TypeVar("EndRow", SourceConnection, TargetConnection)
Body = TypeVar("Body", bound=BaseModel)
PATCHABLE = frozenset({"name", "description", "data", "params"})
# The spec and base connection are fixed: create a new connection instead.
FIXED = {"connectionSpec": 1414, "baseConnectionId": 1414}


def render_end(
    row: SourceConnection | TargetConnection, tenant: Tenant, path: str
) -> dict[str, Any]:
    """`path` is the resource's service-relative collection (`/sourceConnections`)."""
    links = {
        "self": {"href": f"{path}/{row.id}"},
        "connectionSpec": {"href": f"/connectionSpecs/{row.doc['connectionSpec']['id']}"},
    }
    if row.base_connection_id:
        links["baseConnection"] = {"href": f"/connections/{row.base_connection_id}"}
    return {
        **system_view(row, tenant),
        "description": row.doc.get("description", ""),
        "baseConnectionId": row.base_connection_id,
        "data": row.doc.get("data", {}),
        "params": row.doc.get("params", {}),
        "connectionSpec": row.doc["connectionSpec"],
        "state": row.doc.get("state", "enabled"),
        "version": row.etag,
        "_links": links,
    }


def end_document(
    body: SourceConnectionCreate | TargetConnectionCreate,
    spec: ConnectionSpec,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The stored document of a validated connection body (its spec version filled in)."""
    return {
        "description": body.description or "",
        "data": data,
        "params": body.params,
        "connectionSpec": {"id": spec.id, "version": body.connection_spec.version or spec.version},
    }


def patched_body(
    session: Session,
    tenant: Tenant,
    repository: ResourceRepository[EndRow],
    body_model: type[Body],
    resource_id: str,
    operations: object,
    if_match: str | None,
) -> tuple[EndRow, Body]:
    """The row (locked, version-checked) and the create body the patch turns it into."""
    row = repository.get_for_write(session, tenant, resource_id, if_match)
    patch = normalize_operations(operations, PATCHABLE, FIXED)
    patched = apply_operations(render_end(row, tenant, ""), patch)
    body = parse_model(
        body_model,
        {
            "name": patched.get("name"),
            "description": patched.get("description"),
            "baseConnectionId": row.base_connection_id,
            "data": patched.get("data") or {},
            "params": patched.get("params") or {},
            "connectionSpec": row.doc["connectionSpec"],
        },
        code=1455,
    )
    return row, body


def store_patched(
    session: Session,
    tenant: Tenant,
    repository: ResourceRepository[EndRow],
    row: EndRow,
    name: str,
    doc: dict[str, Any],
) -> EndRow:
    """Write a validated patch: the new name and document, as a new version."""
    row.name = name
    row.doc = doc
    repository.touch(row, tenant)
    session.flush()
    return row


def delete_unless_used(
    session: Session,
    tenant: Tenant,
    repository: ResourceRepository[EndRow],
    resource_id: str,
    link: InstrumentedAttribute[str],
    flow_column: InstrumentedAttribute[str],
    usage: str,
) -> None:
    """Delete the connection (locked first), unless flows use it (1447, naming them)."""
    row = repository.get(session, tenant, resource_id, for_update=True)
    flows = list(session.scalars(select(flow_column).where(link == row.id)))
    if flows:
        raise ConflictError(
            f"{repository.resource_type} {row.id} cannot be deleted: flows "
            f"{', '.join(flows)} {usage} it. Delete those flows first.",
            code=1447,
        )
    repository.delete(session, row)
