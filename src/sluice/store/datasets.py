"""Dataset rows as the engine and the catalog both see them: where a dataset's table lives,
and the columns a run's commit adds to its declared schema."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sluice.domain.dataset_types import normalize_type
from sluice.domain.errors import BadRequestError
from sluice.domain.tenancy import Tenant
from sluice.lake.location import LakeLocation, LakeTable
from sluice.store.models import Dataset
from sluice.store.resources import ResourceRepository, find_row


def table_location(lake: LakeLocation, row: Dataset) -> LakeTable:
    """Where the dataset's Delta table lives: one folder per org, sandbox and dataset."""
    return LakeTable(lake.table_uri(row.org_id, row.sandbox_id, row.id), lake)


def declare_new_columns(
    session: Session, tenant: Tenant, dataset_id: str, columns: list[tuple[str, str]]
) -> list[str]:
    """Add `(name, type)` columns its table gained to a dataset's declared schema.

    Only a dataset that declares a schema gets them (one without keeps taking its table's);
    columns already declared (ignoring case) stay as they are. Returns the names added.
    """
    row = find_row(session, Dataset, tenant, dataset_id)
    schema = row.doc.get("schema") if row is not None else None
    if row is None or not schema or not schema.get("fields"):
        return []
    fields = list(schema["fields"])
    declared = {str(f["name"]).casefold() for f in fields}
    # Nested columns (structs, lists) have no catalog type: the table alone shows them.
    new = [
        (name, kind)
        for name, kind in columns
        if name.casefold() not in declared and _is_catalog_type(kind)
    ]
    if not new:
        return []
    added = [{"name": name, "type": kind, "nullable": True} for name, kind in new]
    row.doc = {**row.doc, "schema": {**schema, "fields": fields + added}}
    ResourceRepository.touch(row, tenant)
    session.flush()
    return [name for name, _kind in new]


def _is_catalog_type(kind: str) -> bool:
    try:
        return normalize_type(kind) == kind
    except BadRequestError:
        return False
