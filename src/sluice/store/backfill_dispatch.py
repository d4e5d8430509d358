"""Backfill dispatch: turn a running backfill's pending chunks into runs, at most
`parallelism` live at once, and end the backfill when every chunk has ended.

The leading scheduler calls `advance_running_backfills` on every pass, and the API calls
`advance_backfill` when a backfill is created, resumed or retried (so the first chunks do not
wait for a pass). The database is the source of truth: the live count is read from the runs
in the same transaction that inserts the next ones, with the backfill's row locked on
PostgreSQL (the API's writers lock it too; a second scheduler skips it), and the partial
unique index `ux_runs_one_live_chunk_run` refuses a second live run of a chunk whatever the
callers do. Pausing is simply not creating: live chunk runs finish on their own.

Chunk runs are ordinary windowed runs (tick NULL, like on-demand runs) that name the
backfill: they never move the flow's next tick, and they use the delta column the backfill
recorded, never writing the flow's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.backfill_requests import RUNNING
from sluice.domain.windows import Window
from sluice.store import backfills as store
from sluice.store.clock import now_ms
from sluice.store.db import write_transaction
from sluice.store.models import Backfill, BackfillChunk, Flow
from sluice.store.runs import NewRun, add_run

ORIGIN = "backfill"


def chunk_run(backfill: Backfill, chunk: BackfillChunk, *, now_s: int) -> NewRun:
    window = Window(chunk.window_start, chunk.window_end)
    params: dict[str, object] = {
        "startTime": now_s,
        "windowStartTime": window.start,
        "windowEndTime": window.end,
    }
    if backfill.delta_column:
        params["deltaColumn"] = {"name": backfill.delta_column}
    return NewRun(
        origin=ORIGIN,
        start_at=now_s,
        window=window,
        delta_column=backfill.delta_column,
        params=params,
        backfill_id=backfill.id,
        backfill_chunk=chunk.position,
    )


def advance_backfill(session: Session, backfill: Backfill, *, now_s: int) -> list[str]:
    """Create the next chunk runs while fewer than `parallelism` are live, or end the
    backfill (`success` / `failed`) once no chunk waits and none runs; returns the new run
    ids. Does nothing unless the backfill is running. The caller holds the backfill's row."""
    if backfill.status != RUNNING:
        return []
    live = store.live_chunk_runs(session, backfill.id)
    free = backfill.parallelism - live
    created: list[str] = []
    if free > 0:
        flow = session.get_one(Flow, backfill.flow_id)
        for chunk in store.pending_chunks(session, backfill.id, free):
            run = add_run(
                session, flow, chunk_run(backfill, chunk, now_s=now_s), actor=backfill.created_by
            )
            chunk.pending = False
            chunk.run_id = run.id
            created.append(run.id)
        session.flush()
    if not created and live == 0 and not store.has_pending_chunks(session, backfill.id):
        backfill.status = store.outcome(session, backfill.id)
        backfill.updated_at = max(now_ms(), backfill.updated_at + 1)
        session.flush()
    return created


def advance_running_backfills(sessions: sessionmaker[Session], *, now_s: int) -> list[str]:
    """One scheduler pass over every running backfill; returns the runs it created."""
    created: list[str] = []
    with write_transaction(sessions) as session:
        statement = select(Backfill).where(Backfill.status == RUNNING).order_by(Backfill.id)
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        for backfill in session.scalars(statement).all():
            created += advance_backfill(session, backfill, now_s=now_s)
    return created
