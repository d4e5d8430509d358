"""The two ways a run row is made: `run_row` + `add_run` (the API) and `insert_tick_runs`
(the scheduler's one-statement insert, which builds the row in the database). They must
write the same row, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import Tenant
from sluice.domain.windows import Window
from sluice.services.flows import flows
from sluice.store import tenants
from sluice.store.db import transaction
from sluice.store.models import Flow, Run
from sluice.store.runs import SCHEDULER_CLIENT, NewRun, add_run, insert_tick_runs, run_row

Sessions = sessionmaker[Session]
FLOW_SPEC = {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"}
# Differ by design: fresh ids, etags and timestamps; providerRefId ends with the run id.
VOLATILE = {"id", "etag", "created_at", "updated_at"}


@pytest.fixture
def flow_id(sessions: Sessions) -> str:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Rows Org")
        sandbox = tenants.find_sandbox(session, org.id, "prod")
        assert sandbox is not None
        tenant = Tenant(org.id, sandbox.id, "prod", "tests")
        doc = {"flowSpec": FLOW_SPEC, "scheduleParams": {"startTime": 1, "frequency": "once"}}
        return flows.add(session, tenant, "nightly orders", doc, flow_spec_id=FLOW_SPEC["id"]).id


def _stored(session: Session, run_id: str) -> dict[str, Any]:
    row = session.get_one(Run, run_id)
    return {column.key: getattr(row, column.key) for column in Run.__table__.columns}


def _comparable(values: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in values.items() if k not in VOLATILE}
    doc = dict(kept["doc"])
    prefix, _, run_id = doc.pop("providerRefId").rpartition(":")
    assert run_id == values["id"]
    kept["doc"] = {**doc, "providerRefIdPrefix": prefix}
    return kept


@pytest.mark.parametrize(
    "new",
    [
        NewRun(
            origin="schedule",
            start_at=1_700_000_900,
            window=Window(1_700_000_000, 1_700_000_900),
            delta_column="updated_at",
            tick=1,
        ),
        NewRun(origin="schedule", start_at=1_700_000_000, window=Window(0, 1_700_000_000), tick=0),
        NewRun(origin="schedule", start_at=1_700_000_000, window=None, tick=0),
    ],
    ids=["windowed", "backfill", "once"],
)
def test_the_scheduler_insert_writes_the_row_run_row_describes(
    sessions: Sessions, flow_id: str, new: NewRun
) -> None:
    with transaction(sessions) as session:
        flow = session.get_one(Flow, flow_id)
        expected = run_row(flow, new, actor=SCHEDULER_CLIENT)
        by_api = add_run(session, flow, new, actor=SCHEDULER_CLIENT).id
    with transaction(sessions) as session:
        stored_by_api = _stored(session, by_api)
        # The unique (flow, tick) index would skip the second; make room for it.
        session.execute(delete(Run).where(Run.id == by_api))
    with transaction(sessions) as session:
        assert insert_tick_runs(session, [(flow_id, new)], actor=SCHEDULER_CLIENT) == 1
    with sessions() as session:
        (scheduled,) = session.scalars(select(Run.id).where(Run.flow_id == flow_id))
        stored_by_scheduler = _stored(session, scheduled)
    assert _comparable(stored_by_scheduler) == _comparable(stored_by_api)
    assert _comparable(stored_by_api) == _comparable(
        {**expected, **SERVER_DEFAULTS, **{k: None for k in _unset_columns(expected)}}
    )


# Columns a run row leaves to the database's default.
SERVER_DEFAULTS = {"output_bytes": 0, "expectation_failed": False}


def _unset_columns(row: dict[str, Any]) -> set[str]:
    return {column.key for column in Run.__table__.columns} - set(row) - set(SERVER_DEFAULTS)


def test_a_tick_that_has_its_run_and_a_deleted_flow_are_skipped(
    sessions: Sessions, flow_id: str
) -> None:
    tick = NewRun(origin="schedule", start_at=10, window=Window(0, 10), tick=1)
    with transaction(sessions) as session:
        assert insert_tick_runs(session, [(flow_id, tick)], actor=SCHEDULER_CLIENT) == 1
    with transaction(sessions) as session:
        created = insert_tick_runs(
            session,
            [
                (flow_id, tick),
                (flow_id, NewRun("schedule", 20, Window(10, 20), tick=2)),
                ("no-such-flow", tick),
            ],
            actor=SCHEDULER_CLIENT,
        )
    assert created == 1
    with sessions() as session:
        ticks = session.scalars(select(Run.tick).where(Run.flow_id == flow_id).order_by(Run.tick))
        assert list(ticks) == [1, 2]
        assert session.scalar(select(Run.id).where(Run.flow_id == "no-such-flow")) is None


def test_runs_of_mixed_origins_or_with_files_are_refused(sessions: Sessions, flow_id: str) -> None:
    with transaction(sessions) as session:
        with pytest.raises(ValueError, match="one origin"):
            insert_tick_runs(
                session,
                [
                    (flow_id, NewRun("schedule", 1, None, tick=0)),
                    (flow_id, NewRun("onDemand", 1, None)),
                ],
                actor=SCHEDULER_CLIENT,
            )
        with pytest.raises(ValueError, match="without files"):
            insert_tick_runs(
                session, [(flow_id, NewRun("schedule", 1, None, tick=0, files=[]))], actor="x"
            )
