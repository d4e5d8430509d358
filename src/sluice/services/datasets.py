"""The dataset catalog: named Delta datasets that target connections point at."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.domain.dataset_types import normalize_type
from sluice.domain.errors import ConflictError, bad_request
from sluice.domain.patching import apply_operations, normalize_operations
from sluice.domain.tenancy import Tenant
from sluice.schemas.datasets import DatasetCreate
from sluice.schemas.parsing import parse_model
from sluice.schemas.system_fields import system_view
from sluice.store.datasets import table_location as table_location
from sluice.store.listing import ResourceFields, system_fields
from sluice.store.models import Dataset, TargetConnection
from sluice.store.resources import ResourceRepository

FIELDS = ResourceFields(
    model=Dataset,
    columns=system_fields(Dataset),
    document_fields=frozenset({"description", "schema", "schemaRef", "tags"}),
)
datasets = ResourceRepository(Dataset, "dataSets", FIELDS)
PATCHABLE = frozenset({"name", "description", "tags", "schema"})


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
    return {
        **system_view(row, tenant),
        "description": row.doc.get("description", ""),
        "schema": row.doc.get("schema"),
        "schemaRef": row.doc.get("schemaRef"),
        "tags": row.doc.get("tags", {}),
        "format": "delta",
        "version": row.etag,
    }


def patch_dataset(
    session: Session, tenant: Tenant, dataset_id: str, operations: object, if_match: str | None
) -> Dataset:
    row = datasets.get(session, tenant, dataset_id, for_update=True)
    datasets.check_version(row, if_match)
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


def delete_dataset(session: Session, tenant: Tenant, dataset_id: str, lake_dir: Path) -> None:
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
    location = table_location(lake_dir, row)
    datasets.delete(session, row)
    # Files go last: if the delete above fails, the catalog still describes them.
    shutil.rmtree(location, ignore_errors=True)
