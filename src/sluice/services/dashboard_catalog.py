"""What the dashboard shows of datasets (schema, size, a preview) and connections (masked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.connectors.registry import find_spec
from sluice.domain.tenancy import Tenant
from sluice.lake.location import LakeLocation
from sluice.lake.reader import TableStats, preview_rows, table_stats
from sluice.services.connections import render_connection
from sluice.services.datasets import table_location
from sluice.store.list_query_sql import tenant_scope
from sluice.store.models import Connection, Dataset

PREVIEW_ROWS = 20
LISTED = 500


@dataclass(frozen=True)
class DatasetSummary:
    id: str
    name: str
    description: str
    declared_fields: list[dict[str, Any]]
    stats: TableStats | None


@dataclass(frozen=True)
class DatasetPreview:
    dataset: DatasetSummary
    columns: list[dict[str, str]]
    rows: list[dict[str, Any]]


def _summary(row: Dataset, lake: LakeLocation) -> DatasetSummary:
    schema = row.doc.get("schema") or {}
    return DatasetSummary(
        id=row.id,
        name=row.name,
        description=str(row.doc.get("description") or ""),
        declared_fields=[f for f in schema.get("fields") or [] if isinstance(f, dict)],
        stats=table_stats(table_location(lake, row)),
    )


def dataset_summaries(session: Session, tenant: Tenant, lake: LakeLocation) -> list[DatasetSummary]:
    rows = session.scalars(
        select(Dataset)
        .where(tenant_scope(Dataset, tenant))
        .order_by(Dataset.name, Dataset.id)
        .limit(LISTED)
    )
    return [_summary(row, lake) for row in rows]


def dataset_preview(row: Dataset, lake: LakeLocation) -> DatasetPreview:
    columns, rows = preview_rows(table_location(lake, row), PREVIEW_ROWS)
    return DatasetPreview(dataset=_summary(row, lake), columns=columns, rows=rows)


@dataclass(frozen=True)
class ConnectionView:
    id: str
    name: str
    description: str
    spec_name: str
    state: str
    auth_spec: str | None
    # Secret params read as a mask: render_connection never decrypts them.
    auth_params: dict[str, Any]


def connection_views(session: Session, tenant: Tenant) -> list[ConnectionView]:
    rows = session.scalars(
        select(Connection)
        .where(tenant_scope(Connection, tenant))
        .order_by(Connection.name, Connection.id)
        .limit(LISTED)
    )
    views = []
    for row in rows:
        rendered = render_connection(row, tenant)
        spec = find_spec(row.connection_spec_id)
        auth = rendered.get("auth") or {}
        views.append(
            ConnectionView(
                id=row.id,
                name=row.name,
                description=str(rendered.get("description") or ""),
                spec_name=spec.name if spec else row.connection_spec_id,
                state=row.state,
                auth_spec=auth.get("specName"),
                auth_params=dict(auth.get("params") or {}),
            )
        )
    return views
