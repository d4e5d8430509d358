"""The scheduler: one active leader turns every enabled flow's due schedule ticks into runs.

Ticks are `t(k) = startTime + k * period` (DESIGN section 6). The run of tick k >= 1 covers
`[t(k-1), t(k))` and is due at t(k); tick 0 covers `[0, startTime)` when backfill is true
(due at startTime) and does not exist when it is false; a `once` flow has only tick 0, with
no window (a full load). A run is created once its tick time has come, never ahead.

Runs are inserted with ON CONFLICT (flow_id, tick) DO NOTHING, so the unique index, not the
leadership lease, is what guarantees one run per tick: two schedulers that both believe they
lead (a pass that outlived the lease, a clock jump) still cannot create a tick twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sluice.domain.errors import SluiceError
from sluice.domain.schedule import Schedule, delta_column_of, parse_schedule
from sluice.domain.windows import Window
from sluice.engine import claims
from sluice.engine.claims import Sessions, dialect_insert, write_transaction
from sluice.store import clock
from sluice.store.models import Flow, Run, SchedulerLease
from sluice.store.runs import SCHEDULER_CLIENT, NewRun, run_row
from sluice.webhooks import outbox

log = logging.getLogger(__name__)

LEADERSHIP = "scheduler"
# Catch-up bound: after a long outage a 15-minute flow owes thousands of runs. Each pass
# creates at most this many per flow (the oldest first) and the next pass continues, so one
# pass stays short and the lease is renewed in between.
MAX_RUNS_PER_FLOW_PER_PASS = 1000
# Rows per INSERT: stays far below SQLite's limit on bound parameters (30 columns a row).
_INSERT_CHUNK = 200

_RUNS = cast(Table, Run.__table__)
_LEASES = cast(Table, SchedulerLease.__table__)


def acquire_leadership(
    sessions: Sessions, holder: str, *, lease_ms: int, now_ms: int | None = None
) -> bool:
    """Take or renew the scheduler lease; False while another holder's lease is live.

    One upsert: the row is created if missing, and otherwise only updated when it is ours or
    has expired. Two standbys racing for an expired lease both run the statement, the
    database serializes them on the row, and the loser's WHERE no longer matches.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    with write_transaction(sessions) as session:
        insert = dialect_insert(session)(_LEASES).values(
            name=LEADERSHIP, holder=holder, expires_at=now + lease_ms
        )
        statement = insert.on_conflict_do_update(
            index_elements=[_LEASES.c.name],
            set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
            where=or_(_LEASES.c.holder == holder, _LEASES.c.expires_at < now),
        ).returning(_LEASES.c.holder)
        return session.execute(statement).first() is not None


def release_leadership(sessions: Sessions, holder: str) -> None:
    """Let a standby take over at once instead of waiting for our lease to expire."""
    with write_transaction(sessions) as session:
        session.execute(
            _LEASES.update()
            .where(_LEASES.c.name == LEADERSHIP, _LEASES.c.holder == holder)
            .values(expires_at=0)
        )


def due_ticks(schedule: Schedule, *, last_created: int | None, now_s: int, limit: int) -> range:
    """Ticks whose time has come and that have no run yet, oldest first, at most `limit`."""
    last_due = schedule.last_tick_index(now_s)
    if last_due is None:
        return range(0)
    first = 0 if schedule.is_once or schedule.backfill else 1
    if last_created is not None:
        first = max(first, last_created + 1)
    return range(first, min(last_due, first + limit - 1) + 1)


def run_for_tick(schedule: Schedule, tick: int, *, delta_column: str | None) -> NewRun:
    """The run of one tick: its window and when it is due."""
    if schedule.is_once:
        return NewRun(origin="schedule", start_at=schedule.start_time, window=None, tick=0)
    due = schedule.tick_time(tick)
    start = 0 if tick == 0 else schedule.tick_time(tick - 1)
    end = schedule.start_time if tick == 0 else due
    return NewRun(
        origin="schedule",
        start_at=due,
        window=Window(start, end),
        delta_column=delta_column,
        tick=tick,
    )


def last_ticks(session: Session) -> dict[str, int]:
    """The greatest tick with a run, per enabled flow, in one grouped query."""
    statement = (
        select(Run.flow_id, func.max(Run.tick))
        .join(Flow, Flow.id == Run.flow_id)
        .where(Flow.state == "enabled", Run.tick.is_not(None))
        .group_by(Run.flow_id)
    )
    return {flow_id: int(tick) for flow_id, tick in session.execute(statement) if tick is not None}


@dataclass(frozen=True)
class _PlannedRun:
    flow_id: str
    row: dict[str, Any]


def _flow_schedule(flow: Flow) -> Schedule | None:
    raw = flow.doc.get("scheduleParams")
    if not raw:
        return None
    try:
        # now=0: a stored start time is in the past by design; only its shape is checked.
        return parse_schedule(raw, now=0)
    except SluiceError as error:
        log.warning("Flow %s has an unreadable schedule, skipped: %s", flow.id, error)
        return None


def _plan_runs(
    flows: Iterable[Flow], last: dict[str, int], *, now_s: int, max_per_flow: int
) -> list[_PlannedRun]:
    planned: list[_PlannedRun] = []
    for flow in flows:
        schedule = _flow_schedule(flow)
        if schedule is None:
            continue
        delta = None if schedule.is_once else delta_column_of(flow.doc.get("transformations"))
        ticks = due_ticks(schedule, last_created=last.get(flow.id), now_s=now_s, limit=max_per_flow)
        for tick in ticks:
            new = run_for_tick(schedule, tick, delta_column=delta)
            planned.append(_PlannedRun(flow.id, run_row(flow, new, actor=SCHEDULER_CLIENT)))
    return planned


def materialize_due_runs(
    sessions: Sessions, *, now_s: int, max_per_flow: int = MAX_RUNS_PER_FLOW_PER_PASS
) -> int:
    """Create the missing due runs of every enabled flow; returns how many were created.

    Catch-up is built in: the next tick after each flow's last run, up to `now_s`, so a
    scheduler that was down creates every missed run (at most `max_per_flow` per pass).
    Idempotent: running it twice, or in two schedulers at once, creates each tick once.
    """
    with sessions() as session:
        flows = list(session.scalars(select(Flow).where(Flow.state == "enabled")))
        last = last_ticks(session)
    planned = _plan_runs(flows, last, now_s=now_s, max_per_flow=max_per_flow)
    created = 0
    for chunk in _chunks(planned, _INSERT_CHUNK):
        try:
            created += _insert_runs(sessions, chunk)
        except IntegrityError:
            created += _insert_flow_by_flow(sessions, chunk)
    return created


def _chunks(items: Sequence[_PlannedRun], size: int) -> Iterator[Sequence[_PlannedRun]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert_runs(sessions: Sessions, planned: Sequence[_PlannedRun]) -> int:
    with write_transaction(sessions) as session:
        statement = (
            dialect_insert(session)(_RUNS)
            .values([item.row for item in planned])
            .on_conflict_do_nothing(index_elements=[_RUNS.c.flow_id, _RUNS.c.tick])
            .returning(_RUNS.c.id)
        )
        return len(session.execute(statement).all())


def _insert_flow_by_flow(sessions: Sessions, planned: Sequence[_PlannedRun]) -> int:
    """A flow deleted since we read it fails its foreign key; keep the other flows' runs."""
    created = 0
    for flow_id in dict.fromkeys(item.flow_id for item in planned):
        try:
            created += _insert_runs(sessions, [p for p in planned if p.flow_id == flow_id])
        except IntegrityError:
            log.info("Flow %s disappeared while its runs were being created; skipped.", flow_id)
    return created


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    """Leadership, then runs for due ticks, abandoned cancels and delayed-run events; every
    `interval_seconds`.

    Standby schedulers loop too and take over within `lease_ms` of the leader's last pass.
    """

    def __init__(
        self,
        sessions: Sessions,
        *,
        holder: str | None = None,
        interval_seconds: float = 5.0,
        lease_ms: int | None = None,
        max_runs_per_flow: int = MAX_RUNS_PER_FLOW_PER_PASS,
    ) -> None:
        self.sessions = sessions
        self.holder = holder or default_holder()
        self.interval_seconds = interval_seconds
        # Three missed passes before a standby takes over: a slow pass is not a dead leader.
        self.lease_ms = lease_ms or max(int(interval_seconds * 3000), 10_000)
        self.max_runs_per_flow = max_runs_per_flow

    def run_once(self, *, now_ms: int | None = None) -> bool:
        """One pass; False when another scheduler leads."""
        now = clock.now_ms() if now_ms is None else now_ms
        if not acquire_leadership(self.sessions, self.holder, lease_ms=self.lease_ms, now_ms=now):
            return False
        created = materialize_due_runs(
            self.sessions, now_s=now // 1000, max_per_flow=self.max_runs_per_flow
        )
        if created:
            log.info("Scheduler %s created %d run(s).", self.holder, created)
        claims.cancel_abandoned(self.sessions, now_ms=now)
        outbox.record_delayed_runs(self.sessions, now_ms=now)
        return True

    def run_forever(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.run_once()
                except Exception:
                    # A database hiccup must not end scheduling; the next pass retries.
                    log.exception("Scheduler pass failed; retrying in %ss.", self.interval_seconds)
                stop.wait(self.interval_seconds)
        finally:
            try:
                release_leadership(self.sessions, self.holder)
            except Exception:
                log.exception("Could not release the scheduler lease; it will expire.")
