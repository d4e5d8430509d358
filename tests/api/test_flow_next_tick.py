"""The flow service keeps `flows.next_tick_at` right: set on create, recomputed when a PATCH
changes the schedule and when a flow is enabled again, so the scheduler reads only due flows
and still creates every tick."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from sluice.engine.scheduler import materialize_due_runs
from sluice.store.db import transaction
from sluice.store.models import Flow, Run
from support.api_bodies import FS, created_id
from support.callers import Caller
from support.flow_bodies import flow_body, table_flow_parts

HOUR = 3600
QUARTER = 15 * 60
COPY = [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]


def _next_tick(sessions: sessionmaker[Session], flow_id: str) -> int:
    with sessions() as session:
        return session.get_one(Flow, flow_id).next_tick_at


def _ticks(sessions: sessionmaker[Session], flow_id: str) -> list[int | None]:
    with sessions() as session:
        return [
            run.tick for run in session.query(Run).filter(Run.flow_id == flow_id).order_by(Run.tick)
        ]


def _create(caller: Caller, root: Path, schedule: dict[str, Any], **extra: Any) -> str:
    _base, source, target_id = table_flow_parts(caller, root)
    return created_id(
        caller.post(f"{FS}/flows", json=flow_body(source, target_id, schedule=schedule, **extra))
    )


def _patch_schedule(caller: Caller, flow_id: str, schedule: dict[str, Any]) -> None:
    etag = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]["etag"]
    response = caller.patch(
        f"{FS}/flows/{flow_id}",
        json=[{"op": "replace", "path": "/scheduleParams", "value": schedule}],
        headers={"If-Match": etag},
    )
    assert response.status_code == 200, response.text


def test_a_created_flow_knows_its_first_tick(
    caller: Caller, root: Path, sessions: sessionmaker[Session]
) -> None:
    start = int(time.time()) + HOUR
    once = _create(caller, root, {"startTime": start, "frequency": "once"})
    quarterly = _create(
        caller,
        root,
        {"startTime": start, "frequency": "minute", "interval": 15, "backfill": False},
        transformations=COPY,
    )
    backfill = _create(
        caller,
        root,
        {"startTime": start, "frequency": "hour", "interval": 1, "backfill": True},
        transformations=COPY,
    )
    assert _next_tick(sessions, once) == start
    assert _next_tick(sessions, quarterly) == start + QUARTER  # tick 1: no backfill
    assert _next_tick(sessions, backfill) == start  # tick 0, the backfill


def test_a_patched_schedule_recomputes_the_next_tick_from_the_runs(
    caller: Caller, root: Path, sessions: sessionmaker[Session]
) -> None:
    start = int(time.time()) + HOUR
    schedule = {"startTime": start, "frequency": "minute", "interval": 15, "backfill": False}
    flow_id = _create(caller, root, schedule, transformations=COPY)
    # A scheduler an hour after the start time (the start is still ahead in real time, so
    # the schedule may still change): ticks 1..4.
    assert materialize_due_runs(sessions, now_s=start + HOUR) == 4
    assert _next_tick(sessions, flow_id) == start + 5 * QUARTER
    _patch_schedule(caller, flow_id, {**schedule, "interval": 30})
    # The next tick is the one after the last run, on the new grid: 5 * 30 minutes.
    assert _next_tick(sessions, flow_id) == start + 5 * 2 * QUARTER
    assert materialize_due_runs(sessions, now_s=start + 5 * 2 * QUARTER) == 1
    assert _ticks(sessions, flow_id) == [1, 2, 3, 4, 5]
    later = {**schedule, "startTime": start + 2 * HOUR, "interval": 30}
    _patch_schedule(caller, flow_id, later)
    assert _next_tick(sessions, flow_id) == start + 2 * HOUR + 6 * 2 * QUARTER


def test_enabling_a_flow_again_recomputes_its_next_tick_and_catches_up(
    caller: Caller, root: Path, sessions: sessionmaker[Session]
) -> None:
    start = int(time.time()) + HOUR
    schedule = {"startTime": start, "frequency": "hour", "interval": 1, "backfill": False}
    flow_id = _create(caller, root, schedule, transformations=COPY)
    assert materialize_due_runs(sessions, now_s=start + 2 * HOUR) == 2
    assert caller.post(f"{FS}/flows/{flow_id}/action?op=disable").status_code == 200
    assert materialize_due_runs(sessions, now_s=start + 5 * HOUR) == 0
    with transaction(sessions) as session:  # a wrong value: enabling must not trust it
        session.execute(update(Flow).where(Flow.id == flow_id).values(next_tick_at=0))
    assert caller.post(f"{FS}/flows/{flow_id}/action?op=enable").status_code == 200
    assert _next_tick(sessions, flow_id) == start + 3 * HOUR
    assert materialize_due_runs(sessions, now_s=start + 5 * HOUR) == 3  # missed while off
    assert _ticks(sessions, flow_id) == [1, 2, 3, 4, 5]


def test_on_demand_runs_leave_the_next_tick_alone(
    caller: Caller, root: Path, sessions: sessionmaker[Session]
) -> None:
    start = int(time.time()) + HOUR
    flow_id = _create(caller, root, {"startTime": start, "frequency": "once"})
    before = _next_tick(sessions, flow_id)
    response = caller.post(
        f"{FS}/runs",
        json={
            "flowId": flow_id,
            "params": {
                "startTime": "0",
                "windowStartTime": "0",
                "windowEndTime": "10",
                "deltaColumn": {"name": "updated_at"},
            },
        },
    )
    assert response.status_code == 201, response.text
    assert _next_tick(sessions, flow_id) == before
