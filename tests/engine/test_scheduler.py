"""Scheduling: ticks and windows, catch-up, idempotence under races, leadership."""

from __future__ import annotations

import threading

from sluice.domain.tenancy import Tenant
from sluice.engine import scheduler
from sluice.engine.scheduler import Scheduler, acquire_leadership, materialize_due_runs
from sluice.store.db import write_transaction
from sluice.store.runs import SCHEDULER_CLIENT
from support.run_rows import (
    COPY_UPDATED_AT,
    START,
    Sessions,
    add_runs,
    count_runs,
    every,
    get_run,
    make_flow,
    runs_of,
    set_run,
)

MINUTE, HOUR = 60, 3600


Tick = tuple[int | None, int, int | None, int | None]


def windows(sessions: Sessions, flow_id: str) -> list[Tick]:
    return [(r.tick, r.start_at, r.window_start, r.window_end) for r in runs_of(sessions, flow_id)]


def test_minute_flow_with_backfill_gets_tick_zero_for_everything_before_the_start(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(
        sessions,
        tenant,
        schedule=every("minute", 15, backfill=True),
        transformations=COPY_UPDATED_AT,
    )
    created = materialize_due_runs(sessions, now_s=START + 45 * MINUTE + 10)
    assert created == 4
    q = 15 * MINUTE
    assert windows(sessions, flow_id) == [
        (0, START, 0, START),
        (1, START + q, START, START + q),
        (2, START + 2 * q, START + q, START + 2 * q),
        (3, START + 3 * q, START + 2 * q, START + 3 * q),
    ]
    run = runs_of(sessions, flow_id)[1]
    assert (run.status, run.origin, run.delta_column) == ("scheduled", "schedule", "updated_at")
    assert (run.created_by, run.created_client) == (SCHEDULER_CLIENT, SCHEDULER_CLIENT)
    assert run.doc["params"] == {
        "startTime": START + q,
        "windowStartTime": START,
        "windowEndTime": START + q,
        "deltaColumn": {"name": "updated_at"},
    }


def test_hour_flow_without_backfill_starts_at_tick_one(sessions: Sessions, tenant: Tenant) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("hour", 2, backfill=False))
    assert materialize_due_runs(sessions, now_s=START + 5 * HOUR) == 2
    assert windows(sessions, flow_id) == [
        (1, START + 2 * HOUR, START, START + 2 * HOUR),
        (2, START + 4 * HOUR, START + 2 * HOUR, START + 4 * HOUR),
    ]


def test_nothing_is_created_before_a_tick_is_due(sessions: Sessions, tenant: Tenant) -> None:
    make_flow(sessions, tenant, schedule=every("minute", 15, backfill=True))
    backfill_false = make_flow(sessions, tenant, schedule=every("minute", 15, backfill=False))
    make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "once"})
    assert materialize_due_runs(sessions, now_s=START - 1) == 0
    materialize_due_runs(sessions, now_s=START + 15 * MINUTE - 1)
    assert runs_of(sessions, backfill_false) == []


def test_once_flow_gets_exactly_one_full_load_run(sessions: Sessions, tenant: Tenant) -> None:
    flow_id = make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "once"})
    assert materialize_due_runs(sessions, now_s=START) == 1
    assert materialize_due_runs(sessions, now_s=START + 30 * 86400) == 0
    (run,) = runs_of(sessions, flow_id)
    assert (run.tick, run.start_at, run.window_start, run.window_end) == (0, START, None, None)
    assert run.delta_column is None
    assert run.doc["params"] == {"startTime": START}


def test_on_demand_runs_do_not_shift_the_schedule(sessions: Sessions, tenant: Tenant) -> None:
    flow_id = make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "once"})
    add_runs(sessions, flow_id, 2, start_at=START - 100)
    assert materialize_due_runs(sessions, now_s=START) == 1


def test_a_scheduler_that_was_down_creates_every_missed_run(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("minute", 15, backfill=False))
    assert materialize_due_runs(sessions, now_s=START + HOUR) == 4
    assert materialize_due_runs(sessions, now_s=START + 5 * HOUR) == 16
    ticks = [run.tick for run in runs_of(sessions, flow_id)]
    assert ticks == list(range(1, 21))


def test_catch_up_is_capped_per_pass_and_continues_on_the_next(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("minute", 15, backfill=True))
    now = START + 10 * HOUR
    assert materialize_due_runs(sessions, now_s=now, max_per_flow=3) == 3
    assert materialize_due_runs(sessions, now_s=now, max_per_flow=3) == 3
    assert [run.tick for run in runs_of(sessions, flow_id)] == [0, 1, 2, 3, 4, 5]
    assert materialize_due_runs(sessions, now_s=now) == 41 - 6


def test_materializing_twice_creates_nothing_new(sessions: Sessions, tenant: Tenant) -> None:
    make_flow(sessions, tenant, schedule=every("minute", 15, backfill=True))
    make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "once"})
    now = START + 2 * HOUR
    assert materialize_due_runs(sessions, now_s=now) == 10
    assert materialize_due_runs(sessions, now_s=now) == 0
    assert count_runs(sessions) == 10


def test_a_stale_view_of_existing_ticks_creates_no_duplicate(
    sessions: Sessions, tenant: Tenant
) -> None:
    """What a second scheduler plans if it read before the first one committed."""
    make_flow(sessions, tenant, schedule=every("hour", 1, backfill=True))
    with sessions() as session:
        (stale,) = scheduler.due_flows(session, now_s=START + 4 * HOUR)
    assert stale.last_tick is None
    assert materialize_due_runs(sessions, now_s=START + 3 * HOUR) == 4
    plan = scheduler.plan_flow(stale, now_s=START + 4 * HOUR, max_per_flow=100)
    assert len(plan.runs) == 5
    with write_transaction(sessions) as session:
        assert scheduler.apply_plans(session, [plan]) == 1
    assert count_runs(sessions) == 5


def test_two_schedulers_racing_create_each_tick_once(sessions: Sessions, tenant: Tenant) -> None:
    for _ in range(5):
        make_flow(sessions, tenant, schedule=every("minute", 15, backfill=True))
    now = START + 24 * HOUR  # 97 ticks per flow
    barrier = threading.Barrier(3)
    created: list[int] = []

    def race() -> None:
        barrier.wait()
        created.append(materialize_due_runs(sessions, now_s=now))

    threads = [threading.Thread(target=race) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(created) == count_runs(sessions) == 5 * 97


def test_disabled_flows_and_unreadable_schedules_get_no_runs(
    sessions: Sessions, tenant: Tenant
) -> None:
    disabled = make_flow(
        sessions, tenant, schedule=every("hour", 1, backfill=True), state="disabled"
    )
    broken = make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "yearly"})
    healthy = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=True))
    assert materialize_due_runs(sessions, now_s=START + HOUR) == 2
    assert runs_of(sessions, disabled) == runs_of(sessions, broken) == []
    assert len(runs_of(sessions, healthy)) == 2


T = 2_000_000_000_000


def test_leadership_is_exclusive_until_the_lease_expires(sessions: Sessions) -> None:
    assert acquire_leadership(sessions, "a", lease_ms=1000, now_ms=T)
    assert not acquire_leadership(sessions, "b", lease_ms=1000, now_ms=T + 500)
    assert acquire_leadership(sessions, "a", lease_ms=1000, now_ms=T + 500)  # renewal
    assert not acquire_leadership(sessions, "b", lease_ms=1000, now_ms=T + 1400)
    assert acquire_leadership(sessions, "b", lease_ms=1000, now_ms=T + 1600)  # takeover
    assert not acquire_leadership(sessions, "a", lease_ms=1000, now_ms=T + 1700)
    scheduler.release_leadership(sessions, "b")
    assert acquire_leadership(sessions, "a", lease_ms=1000, now_ms=T + 1700)


def test_candidates_racing_for_leadership_elect_one(sessions: Sessions) -> None:
    barrier = threading.Barrier(4)
    won: list[str] = []

    def candidate(name: str) -> None:
        barrier.wait()
        if acquire_leadership(sessions, name, lease_ms=60_000, now_ms=T):
            won.append(name)

    threads = [threading.Thread(target=candidate, args=(f"s{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_scheduler_pass_creates_runs_and_cancels_abandoned_ones_only_when_leading(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule=every("hour", 1, backfill=False))
    (flagged,) = add_runs(sessions, flow_id, 1)
    set_run(sessions, flagged, cancel_requested=True)
    leader = Scheduler(sessions, holder="leader", lease_ms=60_000)
    standby = Scheduler(sessions, holder="standby", lease_ms=60_000)
    now_ms = (START + 2 * HOUR) * 1000
    assert leader.run_once(now_ms=now_ms)
    assert not standby.run_once(now_ms=now_ms)
    assert sorted(run.tick for run in runs_of(sessions, flow_id) if run.tick is not None) == [1, 2]
    assert get_run(sessions, flagged).status == "cancelled"


def test_scheduler_loop_stops_and_releases_its_lease(sessions: Sessions, tenant: Tenant) -> None:
    make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "once"})
    leader = Scheduler(sessions, holder="leader", interval_seconds=0.01, lease_ms=3_600_000)
    stop = threading.Event()
    thread = threading.Thread(target=leader.run_forever, args=(stop,))
    thread.start()
    while count_runs(sessions) == 0:
        stop.wait(0.01)
    stop.set()
    thread.join()
    assert acquire_leadership(sessions, "standby", lease_ms=1000)
