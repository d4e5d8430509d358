"""`flows.next_tick_at`: a pass reads only the due flows, moves each one's next tick on with
its runs, pages through many flows, and skips flows another transaction holds."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.engine import scheduler
from sluice.engine.scheduler import NO_MORE_TICKS, Scheduler, materialize_due_runs
from sluice.store import flow_ticks
from sluice.store.db import transaction
from sluice.store.models import Flow
from support.run_rows import (
    COPY_UPDATED_AT,
    START,
    Sessions,
    count_runs,
    every,
    make_flow,
    runs_of,
    set_flow,
    set_flow_state,
)

MINUTE, HOUR = 60, 3600
QUARTER = 15 * MINUTE


def flow_row(sessions: Sessions, flow_id: str) -> Flow:
    with sessions() as session:
        return session.get_one(Flow, flow_id)


def test_a_new_flow_gets_its_next_tick_on_the_first_pass_even_before_it_is_due(
    sessions: Sessions, tenant: Tenant
) -> None:
    """Flows written without `next_tick_at` (0) are worked out once, then wait for it."""
    without = make_flow(sessions, tenant, schedule=every("minute", 15, backfill=False))
    backfill = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=True))
    assert flow_row(sessions, without).next_tick_at == 0
    assert materialize_due_runs(sessions, now_s=START - 1) == 0
    assert flow_row(sessions, without).next_tick_at == START + QUARTER
    assert flow_row(sessions, backfill).next_tick_at == START  # tick 0, the backfill


def test_a_flow_whose_next_tick_is_not_due_is_not_read_or_written(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("minute", 15, backfill=True))
    # Its schedule owes runs, but its next tick says it has none due before this time.
    set_flow(sessions, flow_id, next_tick_at=START + 10 * HOUR)
    before = flow_row(sessions, flow_id)
    with sessions() as session:
        assert scheduler.due_flows(session, now_s=START + 2 * HOUR) == []
    assert materialize_due_runs(sessions, now_s=START + 2 * HOUR) == 0
    after = flow_row(sessions, flow_id)
    assert runs_of(sessions, flow_id) == []
    assert (after.next_tick_at, after.etag, after.updated_at) == (
        START + 10 * HOUR,
        before.etag,
        before.updated_at,
    )


def test_each_pass_moves_the_next_tick_past_the_runs_it_created(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(
        sessions,
        tenant,
        schedule=every("minute", 15, backfill=False),
        transformations=COPY_UPDATED_AT,
    )
    etag = flow_row(sessions, flow_id).etag
    assert materialize_due_runs(sessions, now_s=START + HOUR + 10) == 4
    assert flow_row(sessions, flow_id).next_tick_at == START + 5 * QUARTER
    # Not due yet: nothing read, nothing created.
    assert materialize_due_runs(sessions, now_s=START + 5 * QUARTER - 1) == 0
    assert materialize_due_runs(sessions, now_s=START + 5 * QUARTER) == 1
    assert [run.tick for run in runs_of(sessions, flow_id)] == [1, 2, 3, 4, 5]
    flow = flow_row(sessions, flow_id)
    assert flow.next_tick_at == START + 6 * QUARTER
    assert flow.etag == etag  # scheduling is not a change of the flow


def test_catch_up_after_downtime_creates_every_missed_run_across_passes(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("minute", 15, backfill=True))
    assert materialize_due_runs(sessions, now_s=START + HOUR) == 5  # ticks 0..4
    down_until = START + 2 * 86400  # two days later: ticks 5..192 are owed
    assert materialize_due_runs(sessions, now_s=down_until, max_per_flow=50) == 50
    assert flow_row(sessions, flow_id).next_tick_at == START + 55 * QUARTER
    created = 0
    while (step := materialize_due_runs(sessions, now_s=down_until, max_per_flow=50)) > 0:
        created += step
    assert created == 192 - 54
    assert [run.tick for run in runs_of(sessions, flow_id)] == list(range(193))
    assert flow_row(sessions, flow_id).next_tick_at == START + 193 * QUARTER


def test_a_once_flow_and_an_unreadable_schedule_are_parked(
    sessions: Sessions, tenant: Tenant
) -> None:
    once = make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "once"})
    broken = make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "yearly"})
    assert materialize_due_runs(sessions, now_s=START + HOUR) == 1
    assert flow_row(sessions, once).next_tick_at == NO_MORE_TICKS
    assert flow_row(sessions, broken).next_tick_at == NO_MORE_TICKS
    with sessions() as session:
        assert scheduler.due_flows(session, now_s=START + 365 * 86400) == []


def test_a_disabled_flow_is_skipped_and_catches_up_once_enabled_again(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=False))
    assert materialize_due_runs(sessions, now_s=START + 2 * HOUR) == 2
    set_flow_state(sessions, flow_id, "disabled")
    assert materialize_due_runs(sessions, now_s=START + 5 * HOUR) == 0
    assert flow_row(sessions, flow_id).next_tick_at == START + 3 * HOUR
    set_flow_state(sessions, flow_id, "enabled")
    assert materialize_due_runs(sessions, now_s=START + 5 * HOUR) == 3
    assert [run.tick for run in runs_of(sessions, flow_id)] == [1, 2, 3, 4, 5]


def test_reschedule_works_the_next_tick_out_from_the_runs(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=False))
    assert materialize_due_runs(sessions, now_s=START + 3 * HOUR) == 3
    set_flow(sessions, flow_id, next_tick_at=NO_MORE_TICKS)  # a wrong value, as after a bad write
    with transaction(sessions) as session:
        flow = session.get_one(Flow, flow_id)
        flow_ticks.reschedule(session, flow)
    assert flow_row(sessions, flow_id).next_tick_at == START + 4 * HOUR


def test_a_pass_pages_through_many_flows_and_bounds_each_transaction(
    sessions: Sessions, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "FLOWS_PER_PAGE", 3)
    monkeypatch.setattr(scheduler, "RUNS_PER_TRANSACTION", 5)
    flows = [
        make_flow(sessions, tenant, schedule=every("hour", 1, backfill=True)) for _ in range(7)
    ]
    transactions: list[int] = []
    apply = scheduler.apply_plans

    def counting(session: Session, plans: Any) -> int:
        transactions.append(sum(len(plan.runs) for plan in plans))
        return apply(session, plans)

    monkeypatch.setattr(scheduler, "apply_plans", counting)
    assert materialize_due_runs(sessions, now_s=START + 2 * HOUR) == 7 * 3
    for flow_id in flows:
        assert [run.tick for run in runs_of(sessions, flow_id)] == [0, 1, 2]
    # 3 runs per flow: a transaction stops taking flows once it holds 5 runs or more.
    assert transactions == [6, 6, 6, 3]


# Row locks are what this test is about: PostgreSQL only (SQLite has one writer at a time).
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_flow_locked_by_another_transaction_is_skipped_not_waited_for(
    sessions: Sessions, tenant: Tenant
) -> None:
    held = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=False))
    free = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=False))
    now = START + 2 * HOUR
    locked = threading.Event()
    release = threading.Event()

    def hold() -> None:  # what a PATCH does: the flow's row, FOR UPDATE, until commit
        with transaction(sessions) as session:
            session.execute(select(Flow).where(Flow.id == held).with_for_update())
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(60)
        assert materialize_due_runs(sessions, now_s=now) == 2
        assert runs_of(sessions, held) == []
        assert len(runs_of(sessions, free)) == 2
    finally:
        release.set()
        holder.join()
    assert materialize_due_runs(sessions, now_s=now) == 2
    assert len(runs_of(sessions, held)) == 2
    assert count_runs(sessions) == 4


def test_the_scheduler_loop_creates_runs_for_flows_made_without_next_tick(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=True))
    leader = Scheduler(sessions, holder="leader", lease_ms=60_000)
    assert leader.run_once(now_ms=(START + HOUR) * 1000)
    assert [run.tick for run in runs_of(sessions, flow_id)] == [0, 1]
    assert flow_row(sessions, flow_id).next_tick_at == START + 2 * HOUR


def test_parsed_schedules_are_shared_but_true_is_not_taken_for_one(
    sessions: Sessions, tenant: Tenant
) -> None:
    good = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=True))
    one = {**every("hour", 1, backfill=True), "backfill": 1}  # not a boolean: unreadable
    bad = make_flow(sessions, tenant, schedule=one, state="disabled")
    assert materialize_due_runs(sessions, now_s=START + HOUR) == 2  # parses `good` first
    set_flow_state(sessions, bad, "enabled")
    assert materialize_due_runs(sessions, now_s=START + HOUR) == 0
    assert runs_of(sessions, bad) == []
    assert flow_row(sessions, bad).next_tick_at == NO_MORE_TICKS
    assert len(runs_of(sessions, good)) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_reads_due_flows_through_the_due_index_even_after_analyze(
    sessions: Sessions, tenant: Tenant
) -> None:
    """With statistics, SQLite would walk the primary key to save a sort, reading every
    flow on every pass; the due-flows query must keep to `ix_flows_due`."""
    for _ in range(20):
        make_flow(sessions, tenant, schedule=every("hour", 1, backfill=True))
    statements: list[tuple[str, Any]] = []
    with sessions() as session:
        session.execute(text("ANALYZE"))
        engine = session.get_bind()

        def capture(*args: Any) -> None:
            statements.append((args[2], args[3]))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            scheduler.due_flows(session, now_s=START)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        ((statement, parameters),) = statements
        plan = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        details = [row[3] for row in plan]
    assert any("flows USING INDEX ix_flows_due" in detail for detail in details), details
