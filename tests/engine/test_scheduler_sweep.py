"""The leading scheduler's side of the Celery executor, on SQLite and PostgreSQL: it
announces the runs it creates, and its sweep sends again the tasks of runs nobody took,
records when, and records nothing for tasks the broker refused. The broker is replaced by a
recording publisher: what is sent, and to which queue, is the behaviour under test here
(the real broker round trip is tests/e2e/test_celery_executor.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import Tenant
from sluice.engine.scheduler import Scheduler
from sluice.store.models import Run
from sluice.store.run_dispatch import ReadyRun
from support.run_rows import START, add_runs, get_run, make_flow, set_run

Sessions = sessionmaker[Session]
NOW = 1_800_000_000_000


class RecordingPublisher:
    def __init__(self, *, up: bool = True) -> None:
        self.up = up
        self.sent: list[ReadyRun] = []

    def publish(self, runs: Sequence[ReadyRun]) -> list[str]:
        if not self.up:
            return []
        self.sent.extend(runs)
        return [run.run_id for run in runs]


def test_the_leader_announces_the_tick_runs_it_creates(
    sessions: Sessions, tenant: Tenant
) -> None:
    flow_id = make_flow(sessions, tenant, schedule={"startTime": START, "frequency": "hour",
                                          "interval": 1},
              transformations=[{"name": "Copy",
                                "params": {"deltaColumn": {"name": "updated_at"}}}])
    publisher = RecordingPublisher()
    scheduler = Scheduler(sessions, publisher=publisher, sweep_interval_seconds=1)
    assert scheduler.run_once(now_ms=(START + 3 * 3600 + 10) * 1000)
    with sessions() as session:
        created = set(session.scalars(select(Run.id).where(Run.flow_id == flow_id)))
    assert len(created) >= 3 and sorted(r.run_id for r in publisher.sent) == sorted(created)
    assert {run.queue for run in publisher.sent} == {"sluice"}
    assert all(get_run(sessions, run.run_id).status == "scheduled" for run in publisher.sent)
    # A standby sends nothing.
    standby = RecordingPublisher()
    assert not Scheduler(sessions, publisher=standby).run_once(
        now_ms=(START + 3 * 3600 + 11) * 1000)
    assert standby.sent == []


def test_the_sweep_sends_overlooked_runs_once_per_two_intervals(
    sessions: Sessions, tenant: Tenant
) -> None:
    (run_id,) = add_runs(sessions, make_flow(sessions, tenant), 1)
    set_run(sessions, run_id, created_at=NOW - 60_000)  # its task was lost long ago
    down = RecordingPublisher(up=False)
    scheduler = Scheduler(sessions, publisher=down, sweep_interval_seconds=15)
    assert scheduler.sweep(now_ms=NOW) == 0
    assert get_run(sessions, run_id).enqueued_at is None  # refused: not recorded as sent
    scheduler.publisher = publisher = RecordingPublisher()
    assert scheduler.sweep(now_ms=NOW) == 1
    assert publisher.sent == [ReadyRun(run_id, "sluice")]
    assert get_run(sessions, run_id).enqueued_at == NOW
    assert scheduler.sweep(now_ms=NOW + 29_000) == 0  # its task may still be on its way
    assert scheduler.sweep(now_ms=NOW + 59_000) == 0  # backoff: half its wait not yet passed
    assert scheduler.sweep(now_ms=NOW + 61_000) == 1
