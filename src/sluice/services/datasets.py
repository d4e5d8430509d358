"""The dataset catalog: named Delta datasets that target connections point at, in the
Catalog API's shapes (objects keyed by id, `created`/`updated`, `imsOrg`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.domain.dataset_types import normalize_type
from sluice.domain.errors import ConflictError, bad_request
from sluice.domain.patching import apply_operations, normalize_operations
from sluice.domain.tenancy import Tenant
from sluice.lake.location import LakeLocation
from sluice.schemas.datasets import DatasetCreate
from sluice.schemas.parsing import parse_model
from sluice.store.datasets import table_location as table_location
from sluice.store.list_query_sql import ColumnField, ResourceFields
from sluice.store.models import Dataset, TargetConnection
from sluice.store.resources import ResourceRepository

FIELDS = ResourceFields(
    model=Dataset,
    # The Catalog's names for the system fields.
    columns={
        "id": ColumnField(Dataset.id),
        "name": ColumnField(Dataset.name),
        "created": ColumnField(Dataset.created_at, "integer"),
        "updated": ColumnField(Dataset.updated_at, "integer"),
        "createdUser": ColumnField(Dataset.created_by),
        "updatedUser": ColumnField(Dataset.updated_by),
        "createdClient": ColumnField(Dataset.created_client),
        "updatedClient": ColumnField(Dataset.updated_client),
        "imsOrg": ColumnField(Dataset.org_id),
        "sandboxId": ColumnField(Dataset.sandbox_id),
        "etag": ColumnField(Dataset.etag),
        "version": ColumnField(Dataset.etag),
    },
    document_fields=frozenset({"description", "schema", "schemaRef", "tags"}),
)
datasets = ResourceRepository(Dataset, "dataSets", FIELDS)
PATCHABLE = frozenset({"name", "description", "tags", "schema", "schemaRef"})


def _document(body: DatasetCreate) -> dict[str, Any]:
    schema = None
    if body.schema_ is not None:
        names = [f.name.lower() for f in body.schema_.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise bad_request(1000, f"Duplicate column names in schema: {', '.join(duplicates)}.")
        if any(n.startswith("_sluice_") for n in names):
            raise bad_request(
                1000, "Column names starting with '_sluice_' are reserved for system columns."
            )
        schema = {
            "fields": [
                {"name": f.name, "type": normalize_type(f.type), "nullable": f.nullable}
                for f in body.schema_.fields
            ]
        }
    return {
        "description": body.description or "",
        "schema": schema,
        "schemaRef": body.schema_ref,
        "tags": body.tags or {},
    }


def create_dataset(session: Session, tenant: Tenant, body: DatasetCreate) -> Dataset:
    return datasets.add(session, tenant, body.name, _document(body))


def render_dataset(row: Dataset, tenant: Tenant) -> dict[str, Any]:
    """A Catalog dataset object (its id is the key it is listed under), plus Sluice's
    declared `schema`, `format`, `etag` and the links to its preview, stats and history."""
    own = f"/dataSets/{row.id}"
    return {
        "name": row.name,
        "description": row.doc.get("description", ""),
        "imsOrg": row.org_id,
        "sandboxId": row.sandbox_id,
        "sandboxName": tenant.sandbox_name,
        "tags": row.doc.get("tags", {}),
        "schemaRef": row.doc.get("schemaRef"),
        "created": row.created_at,
        "updated": row.updated_at,
        "createdClient": row.created_client,
        "updatedClient": row.updated_client,
        "createdUser": row.created_by,
        "updatedUser": row.updated_by,
        "version": row.etag,
        "etag": row.etag,
        "schema": row.doc.get("schema"),
        "format": "delta",
        "_links": {
            "self": {"href": own},
            "preview": {"href": f"{own}/preview"},
            "stats": {"href": f"{own}/stats"},
            "history": {"href": f"{own}/history"},
        },
    }


def field_operations(fields: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """A Catalog "update using fields" body as JSON Patch operations, and the fields it
    ignores (read-only or unknown ones, as a create does)."""
    operations = [
        {"op": "add", "path": f"/{name}", "value": value}
        for name, value in fields.items()
        if name in PATCHABLE
    ]
    return operations, [name for name in fields if name not in PATCHABLE]


def patch_dataset(
    session: Session, tenant: Tenant, dataset_id: str, operations: object, if_match: str | None
) -> Dataset:
    row = datasets.get(session, tenant, dataset_id, for_update=True)
    # The Catalog's PATCH has no If-Match; one that is sent is still checked.
    datasets.check_version(row, if_match, required=False)
    patch = normalize_operations(operations, PATCHABLE)
    patched = apply_operations(render_dataset(row, tenant), patch)
    body = parse_model(
        DatasetCreate,
        {
            "name": patched.get("name"),
            "description": patched.get("description"),
            "schema": patched.get("schema"),
            "schemaRef": patched.get("schemaRef"),
            "tags": patched.get("tags"),
        },
        code=1455,
    )
    row.name = body.name
    row.doc = _document(body)
    datasets.touch(row, tenant)
    session.flush()
    return row


def delete_dataset(session: Session, tenant: Tenant, dataset_id: str, lake: LakeLocation) -> None:
    row = datasets.get(session, tenant, dataset_id, for_update=True)
    users = list(
        session.scalars(select(TargetConnection.id).where(TargetConnection.dataset_id == row.id))
    )
    if users:
        raise ConflictError(
            f"Dataset {row.id} cannot be deleted: target connections {', '.join(users)} "
            "write to it. Delete them (and their flows) first.",
            code=1447,
        )
    location = table_location(lake, row)
    datasets.delete(session, row)
    # Files go last: if the delete above fails, the catalog still describes them.
    location.delete()
