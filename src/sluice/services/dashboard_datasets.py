"""What the dashboard shows of a dataset beyond its preview: its Delta history, each commit
with the run (and flow) that wrote it, and the flows that write it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.lake.location import LakeLocation
from sluice.lake.reader import table_history
from sluice.services.dashboard_connections import NamedLink
from sluice.services.datasets import table_location
from sluice.store.list_query_sql import tenant_scope
from sluice.store.models import Dataset, Flow, FlowTargetConnection, Run, TargetConnection

HISTORY_SHOWN = 20


@dataclass(frozen=True)
class Commit:
    version: int
    timestamp: int | None  # epoch ms
    operation: str
    run_id: str | None
    flow: NamedLink | None
    rows_added: int | None


def _rows_added(metrics: dict[str, Any]) -> int | None:
    """Rows the commit added: written rows, or for a merge the inserted and updated ones."""
    added = metrics.get("num_added_rows")
    if isinstance(added, int):
        return added
    merged = [metrics.get(k) for k in ("num_target_rows_inserted", "num_target_rows_updated")]
    numbers = [m for m in merged if isinstance(m, int)]
    return sum(numbers) if numbers else None


def dataset_commits(
    session: Session, tenant: Tenant, lake: LakeLocation, row: Dataset
) -> list[Commit]:
    """The newest commits of the dataset's Delta table, newest first."""
    history = table_history(table_location(lake, row), HISTORY_SHOWN)
    run_ids = [str(c["runId"]) for c in history if c.get("runId")]
    flows = {
        run_id: NamedLink(flow_id, name)
        for run_id, flow_id, name in session.execute(
            select(Run.id, Flow.id, Flow.name)
            .join(Flow, Flow.id == Run.flow_id)
            .where(tenant_scope(Run, tenant), Run.id.in_(run_ids))
        )
    }
    return [
        Commit(
            version=int(commit["version"]),
            timestamp=commit.get("timestamp"),
            operation=str(commit.get("operation") or ""),
            run_id=commit.get("runId"),
            flow=flows.get(str(commit.get("runId"))),
            rows_added=_rows_added(commit.get("operationMetrics") or {}),
        )
        for commit in history
    ]


def flows_writing(session: Session, tenant: Tenant, dataset_id: str) -> list[NamedLink]:
    rows = session.execute(
        select(Flow.id, Flow.name)
        .join(FlowTargetConnection, FlowTargetConnection.flow_id == Flow.id)
        .join(TargetConnection, TargetConnection.id == FlowTargetConnection.target_connection_id)
        .where(tenant_scope(Flow, tenant), TargetConnection.dataset_id == dataset_id)
        .order_by(Flow.name)
    )
    return [NamedLink(flow_id, name) for flow_id, name in rows]


def dataset_names(session: Session, tenant: Tenant, dataset_ids: list[str]) -> dict[str, str]:
    """Names of the tenant's datasets among `dataset_ids`, by id (pages show names)."""
    if not dataset_ids:
        return {}
    rows = session.execute(
        select(Dataset.id, Dataset.name).where(
            tenant_scope(Dataset, tenant), Dataset.id.in_(dataset_ids)
        )
    )
    return {dataset_id: name for dataset_id, name in rows}
