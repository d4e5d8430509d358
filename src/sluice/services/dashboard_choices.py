"""The names the dashboard's forms offer: source connections and datasets of a tenant."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.connectors.registry import find_spec
from sluice.domain.tenancy import Tenant
from sluice.store.list_query_sql import tenant_scope
from sluice.store.models import Connection, Dataset

LISTED = 500


@dataclass(frozen=True)
class ConnectionChoice:
    id: str
    name: str
    spec_id: str
    spec_name: str
    source_kind: str


@dataclass(frozen=True)
class DatasetChoice:
    id: str
    name: str


def source_connection_choices(session: Session, tenant: Tenant) -> list[ConnectionChoice]:
    """Base connections a flow can read from (not the lake target), by name."""
    rows = session.execute(
        select(Connection.id, Connection.name, Connection.connection_spec_id)
        .where(tenant_scope(Connection, tenant))
        .order_by(Connection.name, Connection.id)
        .limit(LISTED)
    )
    choices = []
    for connection_id, name, spec_id in rows:
        spec = find_spec(spec_id)
        if spec is not None and spec.source_kind in ("table", "file"):
            kind = spec.source_kind
            choices.append(ConnectionChoice(connection_id, name, spec_id, spec.name, kind))
    return choices


def dataset_choices(session: Session, tenant: Tenant) -> list[DatasetChoice]:
    rows = session.execute(
        select(Dataset.id, Dataset.name)
        .where(tenant_scope(Dataset, tenant))
        .order_by(Dataset.name, Dataset.id)
        .limit(LISTED)
    )
    return [DatasetChoice(dataset_id, name) for dataset_id, name in rows]
