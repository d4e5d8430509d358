"""Flows past their `maxAgeWithoutSuccess` expectation: enabled flows whose last successful
run (or creation, before the first) is older than the expectation allows. Read by the
scheduler (alerts), the metrics and the dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sluice.domain.expectations import (
    MAX_AGE_WITHOUT_SUCCESS,
    flow_expectations,
    overdue_since,
)
from sluice.domain.run_states import SUCCESS
from sluice.store.json_paths import JsonReader
from sluice.store.models import Flow, Run


@dataclass(frozen=True)
class OverdueFlow:
    flow_id: str
    org_id: str
    sandbox_id: str
    name: str
    last_success_at: int | None
    overdue_since: int
    max_age_seconds: int


def last_successes(session: Session, flow_ids: Sequence[str]) -> dict[str, int]:
    """Flow id -> when its last successful run completed (epoch ms), for flows that have one."""
    if not flow_ids:
        return {}
    rows = session.execute(
        select(Run.flow_id, func.max(Run.completed_at))
        .where(Run.flow_id.in_(list(flow_ids)), Run.status == SUCCESS)
        .group_by(Run.flow_id)
    ).all()
    return {flow_id: int(done) for flow_id, done in rows if done is not None}


def overdue_flows(
    session: Session, *, now_ms: int, flow_ids: Sequence[str] | None = None
) -> list[OverdueFlow]:
    """Enabled flows (of `flow_ids`, or all) past their maxAgeWithoutSuccess."""
    # Only flows that set the option leave the database (the scheduler asks on every pass).
    reader = JsonReader(session.get_bind().dialect.name)
    unit = reader.text(Flow.doc, ("options", "expectations", MAX_AGE_WITHOUT_SUCCESS, "unit"))
    query = select(Flow.id, Flow.org_id, Flow.sandbox_id, Flow.name, Flow.created_at, Flow.doc)
    query = query.where(Flow.state == "enabled", unit.is_not(None))
    if flow_ids is not None:
        query = query.where(Flow.id.in_(list(flow_ids)))
    candidates = [
        (row, expectations)
        for row in session.execute(query)
        if (
            expectations := flow_expectations(row.doc.get("options"))
        ).max_age_without_success_seconds
    ]
    successes = last_successes(session, [row.id for row, _ in candidates])
    found = []
    for row, expectations in candidates:
        last = successes.get(row.id)
        since = overdue_since(expectations, last, row.created_at, now_ms)
        if since is not None:
            seconds = expectations.max_age_without_success_seconds
            assert seconds is not None
            found.append(
                OverdueFlow(row.id, row.org_id, row.sandbox_id, row.name, last, since, seconds)
            )
    return found
