"""The reference's system fields of every resource, rendered for the wire (camelCase)."""

from __future__ import annotations

from typing import Any

from sluice.domain.tenancy import Tenant
from sluice.store.models import ResourceColumns


def system_view(row: ResourceColumns, tenant: Tenant) -> dict[str, Any]:
    """The reference's system fields of any resource."""
    return {
        "id": row.id,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "createdBy": row.created_by,
        "updatedBy": row.updated_by,
        "createdClient": row.created_client,
        "updatedClient": row.updated_client,
        "sandboxId": row.sandbox_id,
        "sandboxName": tenant.sandbox_name,
        "imsOrgId": row.org_id,
        "name": row.name,
        "etag": row.etag,
    }
