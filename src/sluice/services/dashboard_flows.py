"""What the dashboard shows of flows: state, schedule, last run and recent success rate."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from sluice.domain.copy_transformation import delta_column_of
from sluice.domain.flow_specs import find_flow_spec
from sluice.domain.run_states import FAILED, IN_PROGRESS, SCHEDULED, SUCCESS
from sluice.domain.tenancy import Tenant
from sluice.services.target_connections import target_connections
from sluice.store.clock import now_ms
from sluice.store.flow_health import OverdueFlow, overdue_flows
from sluice.store.list_query_sql import tenant_scope
from sluice.store.models import Flow, Run

RECENT_RUNS = 20
FLOWS_SHOWN = 500


@dataclass(frozen=True)
class RecentRuns:
    """A flow's latest runs: the newest one, and how many of the finished ones succeeded."""

    last_run_id: str | None = None
    last_status: str | None = None
    last_created_at: int | None = None
    succeeded: int = 0
    failed: int = 0
    active: int = 0
    # The newest run missed the flow's minRowsPerRun expectation.
    last_below_expectation: bool = False

    @property
    def success_rate(self) -> float | None:
        """Percent of the recent runs that finished and succeeded (cancelled ones left out)."""
        finished = self.succeeded + self.failed
        return 100.0 * self.succeeded / finished if finished else None


@dataclass(frozen=True)
class FlowSummary:
    id: str
    name: str
    description: str
    state: str
    source_kind: str  # "table" | "file"
    schedule: dict[str, Any]
    delta_column: str | None
    recent: RecentRuns
    # The flow's failed expectations, as the dashboard badge says them (empty: none failed).
    expectation_alerts: tuple[str, ...] = ()

    @property
    def needs_delta_column(self) -> bool:
        """A table flow takes its delta column from its first windowed run."""
        return self.source_kind == "table" and self.delta_column is None


def _summarize(runs: list[tuple[str, str, int, bool]]) -> RecentRuns:
    """`runs` as (id, status, created_at, expectation_failed), newest first."""
    statuses = [status for _id, status, _at, _below in runs]
    last_id, last_status, last_at, last_below = runs[0]
    return RecentRuns(
        last_below_expectation=bool(last_below),
        last_run_id=last_id,
        last_status=last_status,
        last_created_at=last_at,
        succeeded=statuses.count(SUCCESS),
        failed=statuses.count(FAILED),
        active=statuses.count(SCHEDULED) + statuses.count(IN_PROGRESS),
    )


def recent_runs(
    session: Session, tenant: Tenant, flow_id: str | None = None
) -> dict[str, RecentRuns]:
    """The last RECENT_RUNS runs of every flow of the tenant (or of one), in one query."""
    rank = (
        func.row_number()
        .over(partition_by=Run.flow_id, order_by=(Run.created_at.desc(), Run.id.desc()))
        .label("rank")
    )
    scope = tenant_scope(Run, tenant)
    if flow_id is not None:
        scope = and_(scope, Run.flow_id == flow_id)
    ranked = (
        select(Run.flow_id, Run.id, Run.status, Run.created_at, Run.expectation_failed, rank)
        .where(scope)
        .subquery()
    )
    rows = session.execute(
        select(
            ranked.c.flow_id,
            ranked.c.id,
            ranked.c.status,
            ranked.c.created_at,
            ranked.c.expectation_failed,
        )
        .where(ranked.c.rank <= RECENT_RUNS)
        .order_by(ranked.c.flow_id, ranked.c.rank)
    )
    by_flow: dict[str, list[tuple[str, str, int, bool]]] = defaultdict(list)
    for row_flow_id, run_id, status, created_at, below in rows:
        by_flow[row_flow_id].append((run_id, status, created_at, bool(below)))
    return {key: _summarize(runs) for key, runs in by_flow.items()}


def dataset_of(session: Session, tenant: Tenant, flow: Flow) -> str | None:
    for target_id in flow.doc.get("targetConnectionIds", []):
        target = target_connections.find(session, tenant, str(target_id))
        if target is not None and target.dataset_id:
            return target.dataset_id
    return None


def _alerts(recent: RecentRuns, overdue: OverdueFlow | None) -> tuple[str, ...]:
    alerts = []
    if overdue is not None:
        alerts.append(f"no successful run for over {duration_text(overdue.max_age_seconds)}")
    if recent.last_below_expectation:
        alerts.append("last run landed fewer rows than minRowsPerRun")
    return tuple(alerts)


def duration_text(seconds: int) -> str:
    for unit, size in (("week", 604_800), ("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def flow_summary(
    session: Session,
    tenant: Tenant,
    flow: Flow,
    recent: RecentRuns | None = None,
    overdue: dict[str, OverdueFlow] | None = None,
) -> FlowSummary:
    spec = find_flow_spec(flow.flow_spec_id)
    if recent is None:
        recent = recent_runs(session, tenant, flow.id).get(flow.id, RecentRuns())
    if overdue is None:
        overdue = _overdue(session, [flow.id])
    return FlowSummary(
        id=flow.id,
        name=flow.name,
        description=str(flow.doc.get("description") or ""),
        state=flow.state,
        source_kind=spec.source_kind if spec else "table",
        schedule=dict(flow.doc.get("scheduleParams") or {}),
        delta_column=delta_column_of(flow.doc.get("transformations", [])),
        recent=recent,
        expectation_alerts=_alerts(recent, overdue.get(flow.id)),
    )


def _overdue(session: Session, flow_ids: list[str]) -> dict[str, OverdueFlow]:
    found = overdue_flows(session, now_ms=now_ms(), flow_ids=flow_ids)
    return {flow.flow_id: flow for flow in found}


def flow_summaries(session: Session, tenant: Tenant) -> list[FlowSummary]:
    recent = recent_runs(session, tenant)
    rows = session.scalars(
        select(Flow)
        .where(tenant_scope(Flow, tenant))
        .order_by(Flow.name, Flow.id)
        .limit(FLOWS_SHOWN)
    )
    flows = list(rows)
    overdue = _overdue(session, [row.id for row in flows])
    return [
        flow_summary(session, tenant, row, recent.get(row.id, RecentRuns()), overdue)
        for row in flows
    ]
