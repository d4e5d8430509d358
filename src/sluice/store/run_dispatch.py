"""Which runs to hand to the Celery broker, and on which queue (the executor's bookkeeping).

The runs table stays the queue of record (DESIGN section 1): these reads only decide which
"run X is ready" messages to send. Sending one too many costs a no-op task (the worker's
claim refuses it); sending one too few is what the sweep is for. `enqueued_at` is
bookkeeping, not run state, so it is written here rather than by `run_transitions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from sluice.domain.flow_specs import DEFAULT_QUEUE
from sluice.domain.run_states import IN_PROGRESS, SCHEDULED
from sluice.store.models import Flow, Run

# One sweep sends at most this many tasks; the next sweep continues.
SWEEP_LIMIT = 500


@dataclass(frozen=True)
class ReadyRun:
    """A run to announce, and the queue its flow's `workerQueue` option routes it to."""

    run_id: str
    queue: str


def _queue() -> ColumnElement[str]:
    return func.coalesce(Flow.doc[("options", "workerQueue")].as_string(), DEFAULT_QUEUE)


def _ready(rows: Sequence[tuple[str, str | None]]) -> list[ReadyRun]:
    return [ReadyRun(run_id, queue or DEFAULT_QUEUE) for run_id, queue in rows]


def queues_of(session: Session, run_ids: Sequence[str]) -> list[ReadyRun]:
    """The given runs (those that exist) with their queues."""
    if not run_ids:
        return []
    rows = session.execute(
        select(Run.id, _queue()).join(Flow, Flow.id == Run.flow_id).where(Run.id.in_(run_ids))
    )
    return _ready([(run_id, queue) for run_id, queue in rows])


def created_since(
    session: Session, *, since_ms: int, actor: str, after_id: str = "", limit: int = SWEEP_LIMIT
) -> list[ReadyRun]:
    """Scheduled runs `actor` created from `since_ms` on (the scheduler's new tick runs),
    by id after `after_id`: a page of what a pass must announce."""
    rows = session.execute(
        select(Run.id, _queue())
        .join(Flow, Flow.id == Run.flow_id)
        .where(
            Run.status == SCHEDULED,
            Run.created_at >= since_ms,
            Run.created_by == actor,
            Run.id > after_id,
        )
        .order_by(Run.id)
        .limit(limit)
    )
    return _ready([(run_id, queue) for run_id, queue in rows])


def overlooked(
    session: Session, *, now_ms: int, resend_before_ms: int, limit: int = SWEEP_LIMIT
) -> list[ReadyRun]:
    """Claimable runs whose task was not sent, was lost, or was a no-op, oldest due first.

    (a) due scheduled runs last announced before they were due (their task found them not
    yet due), or before `resend_before_ms` (the task may have been lost; a task still queued
    behind busy workers is sent once more, which costs a no-op claim); (b) in-progress runs
    whose lease expired (their worker died) and (c) runs released for a retry whose time has
    come, also announced before `resend_before_ms`.
    """
    now_s = now_ms // 1000
    announced = func.coalesce(Run.enqueued_at, Run.created_at)
    rows = session.execute(
        select(Run.id, _queue())
        .join(Flow, Flow.id == Run.flow_id)
        .where(
            Flow.state == "enabled",
            Run.cancel_requested.is_(False),
            or_(
                and_(
                    Run.status == SCHEDULED,
                    Run.start_at <= now_s,
                    or_(announced < Run.start_at * 1000, announced < resend_before_ms),
                ),
                and_(
                    Run.status == IN_PROGRESS,
                    Run.lease_expires_at < now_ms,
                    announced < resend_before_ms,
                ),
            ),
        )
        .order_by(Run.start_at, Run.id)
        .limit(limit)
    )
    return _ready([(run_id, queue) for run_id, queue in rows])


def mark_enqueued(session: Session, run_ids: Sequence[str], *, now_ms: int) -> None:
    """Record that these runs' tasks were just sent (the etag stays: not a change of the run)."""
    if run_ids:
        session.execute(
            update(Run)
            .where(Run.id.in_(run_ids))
            .values(enqueued_at=now_ms)
            .execution_options(synchronize_session=False)
        )
