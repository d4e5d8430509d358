"""Mapping set versions as a run reads them: a flow pins one, or takes the latest."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.store.models import MappingSet, MappingSetVersion
from sluice.store.resources import find_row


def latest_version(session: Session, tenant: Tenant, mapping_id: str) -> int:
    """The mapping set's current version number; 0 when the set does not exist (then no
    version of it does either, and `find_version` says so)."""
    row = find_row(session, MappingSet, tenant, mapping_id)
    return row.version if row is not None else 0


def find_version(
    session: Session, tenant: Tenant, mapping_id: str, version: int
) -> MappingSetVersion | None:
    """Version `version` of the tenant's mapping set `mapping_id`, if both exist."""
    if find_row(session, MappingSet, tenant, mapping_id) is None:
        return None
    return session.get(MappingSetVersion, (mapping_id, version))
