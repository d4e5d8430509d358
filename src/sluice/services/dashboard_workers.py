"""What the dashboard shows of the workers: each run slot, where it runs, what it serves, its
last heartbeat and the run in hand.

Workers are deployment-wide (the `/metrics` endpoint shows the same ids and hosts), but the
runs they execute belong to tenants: a run in hand is named only to the viewer whose
sandbox owns it; anyone else reads that the slot is busy.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.store.models import Run, Worker


@dataclass(frozen=True)
class WorkerView:
    id: str
    hostname: str
    executor: str
    queues: tuple[str, ...]
    started_at: int  # epoch ms
    heartbeat_at: int  # epoch ms
    busy: bool
    # The run in hand, when it is the viewer's; None when idle or another sandbox's.
    run_id: str | None
    flow_id: str | None


def worker_views(session: Session, tenant: Tenant) -> list[WorkerView]:
    """Every registered worker, by host and id."""
    own_run = and_(
        Run.id == Worker.current_run_id,
        Run.org_id == tenant.org_id,
        Run.sandbox_id == tenant.sandbox_id,
    )
    rows = session.execute(
        select(
            Worker.id,
            Worker.hostname,
            Worker.executor,
            Worker.queues,
            Worker.started_at,
            Worker.heartbeat_at,
            Worker.current_run_id,
            Run.id,
            Run.flow_id,
        )
        .outerjoin(Run, own_run)
        .order_by(Worker.hostname, Worker.id)
    )
    return [
        WorkerView(
            id=worker_id,
            hostname=hostname,
            executor=executor,
            queues=tuple(q for q in (queues or "").split(",") if q),
            started_at=started_at,
            heartbeat_at=heartbeat_at,
            busy=current_run_id is not None,
            run_id=run_id,
            flow_id=flow_id,
        )
        for (
            worker_id,
            hostname,
            executor,
            queues,
            started_at,
            heartbeat_at,
            current_run_id,
            run_id,
            flow_id,
        ) in rows
    ]
