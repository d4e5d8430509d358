"""Backfill rows, their chunks and the chunk runs: the queries progress and dispatch need.

A chunk's state is read from its current run, never stored twice: `planned` while it waits
for a run (never run, or retried), else its run's status (`running` for a scheduled or
in-progress run, `succeeded`, `failed`, `cancelled`); a chunk a cancel reached before it
ever ran is `cancelled`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from sluice.domain.run_states import CANCELLED, FAILED, IN_PROGRESS, SCHEDULED, SUCCESS
from sluice.domain.tenancy import Tenant
from sluice.domain.windows import Window
from sluice.store.list_query_sql import tenant_scope
from sluice.store.models import BackfillChunk, Flow, Run

LIVE_RUN_STATES = (SCHEDULED, IN_PROGRESS)
CHUNK_STATES = ("planned", "running", "succeeded", "failed", "cancelled")
_STATE_OF_RUN: dict[str, str] = {
    SCHEDULED: "running",
    IN_PROGRESS: "running",
    SUCCESS: "succeeded",
    FAILED: "failed",
    CANCELLED: "cancelled",
}


def chunk_state(pending: bool, run_status: str | None) -> str:
    """A chunk's state; one that waits for nothing and has no run was cancelled first."""
    if pending:
        return "planned"
    if run_status is None:
        return "cancelled"
    return _STATE_OF_RUN.get(run_status, "running")


@dataclass
class Progress:
    """How many chunks are in each state, and the records the succeeded chunks landed."""

    chunks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHUNK_STATES, 0))
    records: int = 0

    @property
    def total(self) -> int:
        return sum(self.chunks.values())

    def to_wire(self) -> dict[str, object]:
        return {"chunks": {"total": self.total, **self.chunks}, "records": self.records}


def lock_flow_for_backfill(session: Session, tenant: Tenant, flow_id: str) -> None:
    """Hold the flow's row for writing until the transaction ends, before anything is read.

    Prevents two concurrent creates from both finding no overlapping backfill and both
    inserting one: the second waits here for the first to commit, then sees it. A no-op
    UPDATE rather than SELECT ... FOR UPDATE because SQLite has no row locks: as the
    transaction's first statement it takes the database's write lock, so the second request
    queues on the busy timeout instead of failing to upgrade a stale read snapshot. The
    flow's etag and times are left alone: a backfill does not change the flow.
    """
    session.execute(
        update(Flow)
        .where(Flow.id == flow_id, tenant_scope(Flow, tenant))
        .values(next_tick_at=Flow.next_tick_at)
        .execution_options(synchronize_session=False)
    )


def add_chunks(session: Session, backfill_id: str, chunks: Sequence[Window]) -> None:
    """The plan's rows, all pending, in one statement."""
    session.execute(
        insert(BackfillChunk),
        [
            {
                "backfill_id": backfill_id,
                "position": position,
                "window_start": chunk.start,
                "window_end": chunk.end,
                "pending": True,
                "run_id": None,
            }
            for position, chunk in enumerate(chunks)
        ],
    )


def progress_of(session: Session, backfill_ids: Iterable[str]) -> dict[str, Progress]:
    """Each backfill's progress, in one grouped query over its chunks and their runs."""
    ids = list(backfill_ids)
    found: dict[str, Progress] = {backfill_id: Progress() for backfill_id in ids}
    if not ids:
        return found
    rows = session.execute(
        select(
            BackfillChunk.backfill_id,
            BackfillChunk.pending,
            Run.status,
            func.count(),
            func.coalesce(func.sum(Run.output_records), 0),
        )
        .outerjoin(Run, Run.id == BackfillChunk.run_id)
        .where(BackfillChunk.backfill_id.in_(ids))
        .group_by(BackfillChunk.backfill_id, BackfillChunk.pending, Run.status)
    )
    for backfill_id, pending, status, count, records in rows:
        state = chunk_state(bool(pending), status)
        found[backfill_id].chunks[state] += int(count)
        if state == "succeeded":
            found[backfill_id].records += int(records)
    return found


def live_chunk_runs(session: Session, backfill_id: str) -> int:
    """Chunk runs of the backfill that are scheduled or in progress (any chunk, any try)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Run)
            .where(Run.backfill_id == backfill_id, Run.status.in_(LIVE_RUN_STATES))
        )
        or 0
    )


def pending_chunks(session: Session, backfill_id: str, limit: int) -> list[BackfillChunk]:
    """The first `limit` chunks waiting for a run, in plan order."""
    return list(
        session.scalars(
            select(BackfillChunk)
            .where(BackfillChunk.backfill_id == backfill_id, BackfillChunk.pending.is_(True))
            .order_by(BackfillChunk.position)
            .limit(limit)
        )
    )


def has_pending_chunks(session: Session, backfill_id: str) -> bool:
    return bool(pending_chunks(session, backfill_id, 1))


def chunks_with_runs(
    session: Session, backfill_id: str
) -> list[tuple[BackfillChunk, str | None, list[Run]]]:
    """Every chunk in plan order, with its current run's status and all of its runs (the
    first try and the retries, oldest first)."""
    chunks = session.execute(
        select(BackfillChunk, Run.status)
        .outerjoin(Run, Run.id == BackfillChunk.run_id)
        .where(BackfillChunk.backfill_id == backfill_id)
        .order_by(BackfillChunk.position)
    ).all()
    runs: dict[int, list[Run]] = {}
    for run in session.scalars(
        select(Run).where(Run.backfill_id == backfill_id).order_by(Run.created_at, Run.id)
    ):
        runs.setdefault(run.backfill_chunk or 0, []).append(run)
    return [(chunk, status, runs.get(chunk.position, [])) for chunk, status in chunks]


def live_runs_of(session: Session, backfill_id: str) -> list[tuple[str, str]]:
    """(id, status) of the backfill's scheduled and in-progress chunk runs."""
    rows = session.execute(
        select(Run.id, Run.status).where(
            Run.backfill_id == backfill_id, Run.status.in_(LIVE_RUN_STATES)
        )
    )
    return [(run_id, status) for run_id, status in rows]


def stop_planning(session: Session, backfill_id: str) -> None:
    """No chunk waits for a run any more (a cancel)."""
    session.execute(
        update(BackfillChunk)
        .where(BackfillChunk.backfill_id == backfill_id, BackfillChunk.pending.is_(True))
        .values(pending=False)
        .execution_options(synchronize_session=False)
    )


def replan_failed_chunks(session: Session, backfill_id: str) -> int:
    """Mark the chunks whose current run failed or was cancelled as waiting for a new run
    (a retry); succeeded chunks keep their run. Returns how many."""
    failed = (
        select(Run.id)
        .where(Run.backfill_id == backfill_id, Run.status.in_((FAILED, CANCELLED)))
        .scalar_subquery()
    )
    result = session.execute(
        update(BackfillChunk)
        .where(
            BackfillChunk.backfill_id == backfill_id,
            BackfillChunk.pending.is_(False),
            BackfillChunk.run_id.in_(failed),
        )
        .values(pending=True)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def outcome(session: Session, backfill_id: str) -> str:
    """`success` when every chunk's current run succeeded, else `failed`."""
    unfinished = session.scalar(
        select(func.count())
        .select_from(BackfillChunk)
        .outerjoin(Run, Run.id == BackfillChunk.run_id)
        .where(
            BackfillChunk.backfill_id == backfill_id,
            (Run.status.is_(None)) | (Run.status != SUCCESS),
        )
    )
    return SUCCESS if not unfinished else FAILED
