"""Flows and runs written straight to the store, for engine and store tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import Tenant
from sluice.domain.windows import Window
from sluice.engine import claims
from sluice.engine.claims import Claim
from sluice.services.flows import flows
from sluice.store.db import transaction
from sluice.store.models import Flow, Run
from sluice.store.runs import NewRun, add_run

Sessions = sessionmaker[Session]
TABLE_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
START = 1_700_000_000  # a schedule's startTime, epoch seconds
COPY_UPDATED_AT = [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]


def every(frequency: str, interval: int, *, backfill: bool) -> dict[str, Any]:
    """A flow's scheduleParams from START."""
    return {"startTime": START, "frequency": frequency, "interval": interval, "backfill": backfill}


def make_flow(
    sessions: Sessions,
    tenant: Tenant,
    *,
    schedule: dict[str, Any] | None = None,
    transformations: list[dict[str, Any]] | None = None,
    state: str = "enabled",
) -> str:
    doc: dict[str, Any] = {
        "flowSpec": {"id": TABLE_FLOW_SPEC, "version": "1.0"},
        "scheduleParams": schedule or {"startTime": START, "frequency": "once"},
        "transformations": transformations or [],
    }
    with transaction(sessions) as session:
        return flows.add(session, tenant, "flow", doc, flow_spec_id=TABLE_FLOW_SPEC, state=state).id


def add_runs(sessions: Sessions, flow_id: str, count: int, *, start_at: int = 0) -> list[str]:
    with transaction(sessions) as session:
        flow = session.get_one(Flow, flow_id)
        return [
            add_run(
                session,
                flow,
                NewRun(origin="onDemand", start_at=start_at + i, window=Window(0, 10)),
                actor="tests",
            ).id
            for i in range(count)
        ]


def runs_with_ties_and_nulls(sessions: Sessions, tenant: Tenant) -> tuple[str, list[str]]:
    """A flow's 8 runs (and another flow's 2) with ties and NULLs in the nullable sort
    columns, so that a list paged by any of them crosses both: (flow id, its run ids)."""
    flow_id = make_flow(sessions, tenant)
    run_ids = add_runs(sessions, flow_id, 8)
    add_runs(sessions, make_flow(sessions, tenant), 2)
    for index, run_id in enumerate(run_ids):
        set_run(
            sessions,
            run_id,
            status=("success", "failed")[index % 2],
            started_at=None if index % 3 == 0 else 1_700_000_000 + index // 2,
            completed_at=None if index % 4 == 0 else 1_700_000_100,
            window_start=None if index == 5 else 10 + index % 3,
        )
    return flow_id, run_ids


def get_run(sessions: Sessions, run_id: str) -> Run:
    with sessions() as session:
        return session.get_one(Run, run_id)


def _set_columns(sessions: Sessions, model: type[Run] | type[Flow], row_id: str,
                 values: dict[str, Any]) -> None:
    """Write columns of one row as they are, past the services' checks."""
    with transaction(sessions) as session:
        session.execute(
            update(model)
            .where(model.id == row_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def set_run(sessions: Sessions, run_id: str, **values: Any) -> None:
    _set_columns(sessions, Run, run_id, values)


def set_flow(sessions: Sessions, flow_id: str, **values: Any) -> None:
    _set_columns(sessions, Flow, flow_id, values)


def set_flow_state(sessions: Sessions, flow_id: str, state: str) -> None:
    set_flow(sessions, flow_id, state=state)


def finish_success(sessions: Sessions, claim: Claim, output_records: int = 0) -> None:
    """End the claimed run `success` (completed at 1 ms, nothing committed), as an executor's
    run function would."""
    claims.finish_run(
        sessions,
        claim,
        status="success",
        completed_at_ms=1,
        doc=get_run(sessions, claim.run_id).doc,
        output_records=output_records,
        committed_version=None,
    )


def runs_of(sessions: Sessions, flow_id: str) -> list[Run]:
    with sessions() as session:
        return list(session.scalars(select(Run).where(Run.flow_id == flow_id).order_by(Run.tick)))


def count_runs(sessions: Sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Run)) or 0
