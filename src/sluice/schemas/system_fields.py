"""The reference's system fields of every resource, rendered for the wire (camelCase)."""

from __future__ import annotations

from typing import Any, Protocol

from sluice.domain.tenancy import Tenant


class SystemColumns(Protocol):
    """A stored resource's system columns: a model instance, or a view of its row."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def created_at(self) -> int: ...
    @property
    def updated_at(self) -> int: ...
    @property
    def created_by(self) -> str: ...
    @property
    def updated_by(self) -> str: ...
    @property
    def created_client(self) -> str: ...
    @property
    def updated_client(self) -> str: ...
    @property
    def sandbox_id(self) -> str: ...
    @property
    def org_id(self) -> str: ...
    @property
    def etag(self) -> str: ...


def system_view(row: SystemColumns, tenant: Tenant) -> dict[str, Any]:
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
