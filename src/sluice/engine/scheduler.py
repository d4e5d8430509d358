"""The scheduler: one active leader turns every enabled flow's due schedule ticks into runs.

Ticks are `t(k) = startTime + k * period` (DESIGN section 6). The run of tick k >= 1 covers
`[t(k-1), t(k))` and is due at t(k); tick 0 covers `[0, startTime)` when backfill is true
(due at startTime) and does not exist when it is false; a `once` flow has only tick 0, with
no window (a full load). A run is created once its tick time has come, never ahead.

Runs are inserted with ON CONFLICT (flow_id, tick) DO NOTHING, so the unique index, not the
leadership lease, is what guarantees one run per tick: two schedulers that both believe they
lead (a pass that outlived the lease, a clock jump) still cannot create a tick twice.

A pass reads only the due flows: `flows.next_tick_at` (indexed with the state) is when each
flow's first tick without a run is due. A pass plans from the flow's greatest tick that has
a run (the runs stay the source of truth), inserts the runs in one statement and moves
`next_tick_at` past them in the same transaction. So a `next_tick_at` that is early only
costs a read, and 0 (a flow written without one) is worked out on the next pass; keeping it
from being late is the writers' part: creating a flow sets it, enabling a flow and changing
its schedule recompute it (`reschedule`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, text
from sqlalchemy.orm import Session

from sluice.domain.schedule import (
    NO_MORE_TICKS,
    Schedule,
    delta_column_of,
    due_ticks,
    next_tick_at,
    tick_window,
)
from sluice.engine import claims
from sluice.engine.claims import Sessions, dialect_insert, write_transaction
from sluice.engine.executors import RunPublisher
from sluice.store import clock, run_dispatch
from sluice.store.flow_ticks import flow_schedule
from sluice.store.models import Flow, Run, SchedulerLease
from sluice.store.runs import SCHEDULER_CLIENT, NewRun, insert_tick_runs
from sluice.webhooks import outbox

log = logging.getLogger(__name__)

LEADERSHIP = "scheduler"
# Catch-up bound: after a long outage a 15-minute flow owes thousands of runs. Each pass
# creates at most this many per flow (the oldest first) and the next pass continues, so one
# pass stays short and the lease is renewed in between.
MAX_RUNS_PER_FLOW_PER_PASS = 1000
# One transaction plans at most this many flows, and stops adding flows past this many runs,
# so locks and transactions stay bounded (SQLite's other writers queue behind each one, for
# about a second at these sizes). Larger transactions are cheaper per run: each dirties an
# index page once however many of its runs land there.
FLOWS_PER_PAGE = 5000
RUNS_PER_TRANSACTION = 10_000
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


def run_for_tick(schedule: Schedule, tick: int, *, delta_column: str | None) -> NewRun:
    """The run of one tick: its window and when it is due."""
    if schedule.is_once:
        return NewRun(origin="schedule", start_at=schedule.start_time, window=None, tick=0)
    return NewRun(
        origin="schedule",
        start_at=schedule.tick_time(tick),
        window=tick_window(schedule, tick),
        delta_column=delta_column,
        tick=tick,
    )


@dataclass(frozen=True)
class DueFlow:
    """What planning a flow's runs reads: its schedule, its transformations (the delta
    column) and the greatest tick that has a run."""

    id: str
    schedule_params: Any
    transformations: Any
    last_tick: int | None


@dataclass(frozen=True)
class FlowPlan:
    """The runs to create for one flow, and its `next_tick_at` once they exist."""

    flow_id: str
    runs: list[NewRun]
    next_tick_at: int


def due_flows(
    session: Session, *, now_s: int, after: str = "", limit: int | None = None
) -> list[DueFlow]:
    """Enabled flows whose next tick has come (`ix_flows_due`), by id after `after`.

    On PostgreSQL the rows are locked (FOR NO KEY UPDATE SKIP LOCKED) until the transaction
    ends: a flow that a second scheduler, a PATCH or an enable holds is skipped rather than
    waited for, and stays due for the next pass. On-demand runs are not held up: their
    foreign-key check takes a KEY SHARE lock, which does not conflict.
    """
    last_tick = select(func.max(Run.tick)).where(Run.flow_id == Flow.id).scalar_subquery()
    # SQLite's planner, once ANALYZE has run, would rather walk the primary key (rows come in
    # id order, no sort) and so read every flow on every pass; an expression of the id (the
    # same order) leaves it the due index and a sort of the due flows only.
    by_id = Flow.id.concat("") if session.get_bind().dialect.name == "sqlite" else Flow.id
    statement = (
        select(Flow.id, Flow.doc["scheduleParams"], Flow.doc["transformations"], last_tick)
        .where(Flow.state == "enabled", Flow.next_tick_at <= now_s, by_id > after)
        .order_by(by_id)
        .limit(FLOWS_PER_PAGE if limit is None else limit)
        .with_for_update(skip_locked=True, key_share=True)
    )
    return [DueFlow(*row) for row in session.execute(statement)]


def plan_flow(flow: DueFlow, *, now_s: int, max_per_flow: int) -> FlowPlan:
    """The due runs of one flow (at most `max_per_flow`, the oldest first) and the time of
    the tick after them. A flow without a readable schedule is parked at NO_MORE_TICKS."""
    schedule = flow_schedule(flow.id, flow.schedule_params)
    if schedule is None:
        return FlowPlan(flow.id, [], NO_MORE_TICKS)
    delta = None if schedule.is_once else delta_column_of(flow.transformations)
    ticks = due_ticks(schedule, last_created=flow.last_tick, now_s=now_s, limit=max_per_flow)
    runs = [run_for_tick(schedule, tick, delta_column=delta) for tick in ticks]
    last = ticks[-1] if ticks else flow.last_tick
    return FlowPlan(flow.id, runs, next_tick_at(schedule, last_created=last))


def materialize_due_runs(
    sessions: Sessions, *, now_s: int, max_per_flow: int = MAX_RUNS_PER_FLOW_PER_PASS
) -> int:
    """Create the missing due runs of every enabled flow; returns how many were created.

    Only flows whose `next_tick_at` has come are read, a page at a time; each page's runs
    are inserted and its flows' `next_tick_at` moved on in one transaction. Catch-up is
    built in: a flow's ticks run from the one after its last run up to `now_s`, so a
    scheduler that was down creates every missed run (at most `max_per_flow` per flow and
    pass; the flow stays due and the next pass continues). Idempotent: running it twice,
    or in two schedulers at once, creates each tick once.
    """
    created = 0
    after = ""
    while True:
        with write_transaction(sessions) as session:
            page = due_flows(session, now_s=now_s, after=after)
            plans = _plans_within_budget(page, now_s=now_s, max_per_flow=max_per_flow)
            created += apply_plans(session, plans)
        if len(plans) == len(page) < FLOWS_PER_PAGE:
            return created
        after = plans[-1].flow_id


def _plans_within_budget(
    page: Sequence[DueFlow], *, now_s: int, max_per_flow: int
) -> list[FlowPlan]:
    """Plans in id order until a transaction's worth of runs; the rest waits for the next
    page (those flows are still due)."""
    plans: list[FlowPlan] = []
    runs = 0
    for flow in page:
        if runs >= RUNS_PER_TRANSACTION:
            break
        plan = plan_flow(flow, now_s=now_s, max_per_flow=max_per_flow)
        plans.append(plan)
        runs += len(plan.runs)
    return plans


_ADVANCE = {
    "postgresql": text("""
        UPDATE flows SET next_tick_at = p.next_tick_at
        FROM jsonb_to_recordset(CAST(:plans AS jsonb)) AS p(id varchar, next_tick_at bigint)
        WHERE flows.id = p.id
    """),
    "sqlite": text("""
        UPDATE flows SET next_tick_at = json_extract(p.value, '$.next_tick_at')
        FROM json_each(:plans) AS p
        WHERE flows.id = json_extract(p.value, '$.id')
    """),
}


def apply_plans(session: Session, plans: Sequence[FlowPlan]) -> int:
    """Insert the planned runs and move each flow's `next_tick_at` on, one statement each;
    returns how many runs were new. The flows' etags stay: scheduling is not a change of
    the flow."""
    if not plans:
        return 0
    runs = [(plan.flow_id, new) for plan in plans for new in plan.runs]
    created = insert_tick_runs(session, runs, actor=SCHEDULER_CLIENT)
    moves = [{"id": plan.flow_id, "next_tick_at": plan.next_tick_at} for plan in plans]
    session.execute(
        _ADVANCE[session.get_bind().dialect.name],
        {"plans": json.dumps(moves, separators=(",", ":"))},
    )
    return created


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    """Leadership, then runs for due ticks, abandoned cancels and delayed-run events; every
    `interval_seconds`. With a `publisher` (the Celery executor) the leader also sends the
    tasks of the runs it created, and sweeps: every `sweep_interval_seconds` it sends again
    the tasks of claimable runs nobody took (`run_dispatch.overlooked`).

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
        publisher: RunPublisher | None = None,
        sweep_interval_seconds: float = 15.0,
    ) -> None:
        self.sessions = sessions
        self.holder = holder or default_holder()
        self.interval_seconds = interval_seconds
        # Three missed passes before a standby takes over: a slow pass is not a dead leader.
        self.lease_ms = lease_ms or max(int(interval_seconds * 3000), 10_000)
        self.max_runs_per_flow = max_runs_per_flow
        self.publisher = publisher
        self.sweep_interval_ms = int(sweep_interval_seconds * 1000)
        self._next_sweep_ms = 0

    def run_once(self, *, now_ms: int | None = None) -> bool:
        """One pass; False when another scheduler leads."""
        now = clock.now_ms() if now_ms is None else now_ms
        if not acquire_leadership(self.sessions, self.holder, lease_ms=self.lease_ms, now_ms=now):
            return False
        pass_started = clock.now_ms()  # the runs' created_at is the real clock's
        created = materialize_due_runs(
            self.sessions, now_s=now // 1000, max_per_flow=self.max_runs_per_flow
        )
        if created:
            log.info("Scheduler %s created %d run(s).", self.holder, created)
            if self.publisher is not None:
                self.announce_created(since_ms=pass_started)
        claims.cancel_abandoned(self.sessions, now_ms=now)
        outbox.record_delayed_runs(self.sessions, now_ms=now)
        if self.publisher is not None and now >= self._next_sweep_ms:
            self.sweep(now_ms=now)
            self._next_sweep_ms = now + self.sweep_interval_ms
        return True

    def announce_created(self, *, since_ms: int) -> int:
        """Send the tasks of the scheduled runs this scheduler created from `since_ms` on;
        how many were sent. Pages of `SWEEP_LIMIT`; stops when the broker refuses."""
        assert self.publisher is not None
        sent_total = 0
        after = ""
        while True:
            with self.sessions() as session:
                page = run_dispatch.created_since(
                    session, since_ms=since_ms, actor=SCHEDULER_CLIENT, after_id=after
                )
            sent = self.publisher.publish(page)
            sent_total += len(sent)
            if len(sent) < len(page) or len(page) < run_dispatch.SWEEP_LIMIT:
                return sent_total
            after = page[-1].run_id

    def sweep(self, *, now_ms: int | None = None) -> int:
        """Send again the tasks of claimable runs nobody took (never sent, lost, sent before
        they were due, released for a retry, or held by a worker that died); how many. One
        bounded page per sweep: the next sweep continues."""
        assert self.publisher is not None
        now = clock.now_ms() if now_ms is None else now_ms
        with self.sessions() as session:
            overlooked = run_dispatch.overlooked(
                session, now_ms=now, resend_before_ms=now - 2 * self.sweep_interval_ms
            )
        sent = self.publisher.publish(overlooked)
        if sent:
            with write_transaction(self.sessions) as session:
                run_dispatch.mark_enqueued(session, sent, now_ms=now)
            log.info("Sweep: sent the tasks of %d run(s) nobody had taken.", len(sent))
        return len(sent)

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
