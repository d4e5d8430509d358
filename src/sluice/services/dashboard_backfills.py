"""What the dashboard's backfill pages show: backfills with their flow's name and progress."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.services.backfills import backfills, chunk_views, render_backfill
from sluice.store import backfills as store
from sluice.store.list_query_sql import tenant_scope
from sluice.store.models import Backfill, Flow

RECENT_BACKFILLS = 100


def _flow_names(session: Session, flow_ids: set[str]) -> dict[str, str]:
    if not flow_ids:
        return {}
    rows = session.execute(select(Flow.id, Flow.name).where(Flow.id.in_(flow_ids)))
    return {flow_id: name for flow_id, name in rows}


def recent_backfills(
    session: Session, tenant: Tenant, *, limit: int = RECENT_BACKFILLS
) -> list[dict[str, Any]]:
    """The tenant's newest backfills (list view: progress, no chunks), with `flowName`."""
    rows = list(
        session.scalars(
            select(Backfill)
            .where(tenant_scope(Backfill, tenant))
            .order_by(Backfill.created_at.desc(), Backfill.id.desc())
            .limit(limit)
        )
    )
    progress = store.progress_of(session, [row.id for row in rows])
    names = _flow_names(session, {row.flow_id for row in rows})
    return [
        {
            **render_backfill(row, tenant, progress[row.id], chunks=None),
            "flowName": names.get(row.flow_id, row.name),
        }
        for row in rows
    ]


def backfill_detail(session: Session, tenant: Tenant, backfill_id: str) -> dict[str, Any] | None:
    """One backfill with every chunk and its runs, or None (missing or another tenant's)."""
    row = backfills.find(session, tenant, backfill_id)
    if row is None:
        return None
    progress = store.progress_of(session, [row.id])[row.id]
    view = render_backfill(row, tenant, progress, chunks=chunk_views(session, row))
    view["flowName"] = _flow_names(session, {row.flow_id}).get(row.flow_id, row.name)
    return view
