"""`/backfills` over HTTP on both metadata stores: the plan, bounded parallelism through a
whole backfill, pause / resume / cancel / retry, dry runs, coded errors that leave nothing
behind, and a flow's next tick and delta column left alone.

Chunk runs are ended here through the run transitions a worker uses (claim, then finish), so
each step of the backfill is observable; `tests/e2e/test_backfill_journey.py` runs real
chunks against PostgreSQL through the real server.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sluice.store import run_transitions
from sluice.store.backfill_dispatch import advance_running_backfills
from sluice.store.clock import now_ms
from sluice.store.db import transaction
from sluice.store.models import Backfill, BackfillChunk, Flow, Run
from support.api_bodies import FS, created_id
from support.callers import Caller, error_code
from support.flow_bodies import FILE_SPEC, file_flow_parts, flow_body, table_flow_parts

BACKFILLS = f"{FS}/backfills"
DAY = 86_400
START = 1_717_200_000  # 2024-06-01T00:00:00Z
Sessions = sessionmaker[Session]


def _body(flow_id: str, days: int = 4, **extra: Any) -> dict[str, Any]:
    return {
        "flowId": flow_id,
        "windowStartTime": START,
        "windowEndTime": START + days * DAY,
        "chunk": {"unit": "day", "size": 1},
        "parallelism": 2,
        "deltaColumn": {"name": "updated_at"},
        **extra,
    }


def _create(caller: Caller, body: dict[str, Any]) -> str:
    return created_id(caller.post(BACKFILLS, json=body))


def _show(caller: Caller, backfill_id: str) -> dict[str, Any]:
    response = caller.get(f"{BACKFILLS}/{backfill_id}")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 1
    return dict(items[0])


def _act(caller: Caller, backfill_id: str, op: str) -> Any:
    return caller.post(f"{BACKFILLS}/{backfill_id}/action?op={op}")


def _live(sessions: Sessions, backfill_id: str) -> list[Run]:
    with transaction(sessions) as session:
        return list(
            session.scalars(
                select(Run).where(
                    Run.backfill_id == backfill_id, Run.status.in_(("scheduled", "inProgress"))
                )
            )
        )


def _start_live(sessions: Sessions, limit: int = 100) -> list[run_transitions.Claim]:
    """Claim due runs (at most `limit`), as workers would."""
    held: list[run_transitions.Claim] = []
    while len(held) < limit:
        with transaction(sessions) as session:
            token = uuid.uuid4().hex
            claimed = run_transitions.claim(
                session, "test-worker", token, lease_ms=60_000, now_ms=now_ms() + 2000
            )
        if claimed is None:
            break
        held.append(run_transitions.Claim(claimed.run_id, token, claimed.attempt, "test-worker"))
    return held


def _finish(
    sessions: Sessions, claims: list[run_transitions.Claim], failing: frozenset[int] = frozenset()
) -> None:
    """End claimed runs: failed for the chunks in `failing`, else success with 10 records."""
    for held in claims:
        with transaction(sessions) as session:
            run = session.get_one(Run, held.run_id)
            failed = run.backfill_chunk in failing
            run_transitions.finish(
                session,
                held,
                status="failed" if failed else "success",
                completed_at_ms=now_ms(),
                doc=run.doc,
                output_records=0 if failed else 10,
                committed_version=None,
            )


def _step(sessions: Sessions, failing: frozenset[int] = frozenset()) -> None:
    """Workers run every live chunk to its end, then a scheduler pass."""
    _finish(sessions, _start_live(sessions), failing)
    advance_running_backfills(sessions, now_s=now_ms() // 1000)


def _count(sessions: Sessions, model: Any) -> int:
    with transaction(sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_create_plans_the_chunks_and_starts_at_most_parallelism_runs(
    caller: Caller, table_flow: str
) -> None:
    response = caller.post(BACKFILLS, json=_body(table_flow))
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"id", "etag"}
    backfill = _show(caller, response.json()["id"])
    assert backfill["etag"] == response.headers["ETag"]
    for field in ("createdAt", "updatedAt", "createdBy", "sandboxName", "imsOrgId", "etag"):
        assert backfill[field]
    assert backfill["status"] == "running"
    assert backfill["chunk"] == {"unit": "day", "size": 1}
    assert backfill["progress"] == {
        "chunks": {
            "total": 4,
            "planned": 2,
            "running": 2,
            "succeeded": 0,
            "failed": 0,
            "cancelled": 0,
        },
        "records": 0,
    }
    chunks = backfill["chunks"]
    assert [(c["windowStartTime"], c["windowEndTime"]) for c in chunks] == [
        (START + k * DAY, START + (k + 1) * DAY) for k in range(4)
    ]
    assert [c["status"] for c in chunks] == ["running", "running", "planned", "planned"]
    runs = caller.get(f"{FS}/runs?property=backfillId=={backfill['id']}").json()["items"]
    assert sorted(r["id"] for r in runs) == sorted(c["runId"] for c in chunks[:2])
    for run in runs:
        assert run["backfillId"] == backfill["id"]
        assert run["params"]["deltaColumn"] == {"name": "updated_at"}
        assert (run["params"]["windowStartTime"], run["params"]["windowEndTime"]) in [
            (START, START + DAY),
            (START + DAY, START + 2 * DAY),
        ]
    # The first windowed run of a `once` flow sets its delta column, as an on-demand run does.
    flow = caller.get(f"{FS}/flows/{table_flow}").json()["items"][0]
    assert flow["transformations"][0]["params"]["deltaColumn"] == {"name": "updated_at"}


def test_parallelism_holds_through_the_whole_backfill(
    caller: Caller, table_flow: str, sessions: Sessions
) -> None:
    backfill_id = _create(caller, _body(table_flow, days=7, parallelism=3))
    seen_live = []
    for _ in range(10):
        live = _live(sessions, backfill_id)
        seen_live.append(len(live))
        assert len(live) <= 3
        if not live:
            break
        _step(sessions)
    assert seen_live == [3, 3, 1, 0]
    backfill = _show(caller, backfill_id)
    assert backfill["status"] == "success"
    assert backfill["progress"]["chunks"]["succeeded"] == 7
    assert backfill["progress"]["records"] == 70
    assert all(len(c["runs"]) == 1 for c in backfill["chunks"])


def test_pause_stops_new_chunk_runs_and_resume_continues(
    caller: Caller, table_flow: str, sessions: Sessions
) -> None:
    backfill_id = _create(caller, _body(table_flow, days=4, parallelism=1))
    response = _act(caller, backfill_id, "pause")
    assert response.status_code == 200, response.text
    assert response.json()["etag"] == _show(caller, backfill_id)["etag"]
    _step(sessions)  # the live chunk run finishes; no new one starts while paused
    _step(sessions)
    backfill = _show(caller, backfill_id)
    assert backfill["status"] == "paused"
    assert backfill["progress"]["chunks"]["succeeded"] == 1
    assert backfill["progress"]["chunks"]["planned"] == 3
    assert _live(sessions, backfill_id) == []
    assert error_code(_act(caller, backfill_id, "pause")) == "FLOW-2304-409"
    assert error_code(_act(caller, backfill_id, "retry")) == "FLOW-2304-409"

    assert _act(caller, backfill_id, "resume").status_code == 200
    assert len(_live(sessions, backfill_id)) == 1  # resumed at once, not on the next pass
    for _ in range(3):
        _step(sessions)
    assert _show(caller, backfill_id)["status"] == "success"


def test_cancel_ends_scheduled_chunk_runs_and_asks_running_ones_to_stop(
    caller: Caller, table_flow: str, sessions: Sessions
) -> None:
    backfill_id = _create(caller, _body(table_flow, days=5, parallelism=2))
    claims = _start_live(sessions, limit=1)  # one chunk run in progress, the other still scheduled
    assert len(_live(sessions, backfill_id)) == 2
    response = _act(caller, backfill_id, "cancel")
    assert response.status_code == 200, response.text
    with transaction(sessions) as session:
        runs = {r.id: r for r in session.scalars(select(Run).where(Run.backfill_id == backfill_id))}
    running = runs.pop(claims[0].run_id)
    assert running.status == "inProgress" and running.cancel_requested
    assert [r.status for r in runs.values()] == ["cancelled"]
    advance_running_backfills(sessions, now_s=now_ms() // 1000)
    backfill = _show(caller, backfill_id)
    assert backfill["status"] == "cancelled"
    # Nothing waits for a run any more: the three chunks never started count as cancelled.
    assert backfill["progress"]["chunks"] == {
        "total": 5,
        "planned": 0,
        "running": 1,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 4,
    }
    assert len(runs) + 1 == 2  # no chunk run was created after the cancel
    assert error_code(_act(caller, backfill_id, "resume")) == "FLOW-2304-409"
    assert error_code(_act(caller, backfill_id, "frobnicate")) == "FLOW-2305-400"


def test_retry_reruns_only_the_failed_chunks(
    caller: Caller, table_flow: str, sessions: Sessions
) -> None:
    backfill_id = _create(caller, _body(table_flow, days=3, parallelism=3))
    _step(sessions, failing=frozenset({1}))
    backfill = _show(caller, backfill_id)
    assert backfill["status"] == "failed"
    assert [c["status"] for c in backfill["chunks"]] == ["succeeded", "failed", "succeeded"]
    first_runs = [c["runId"] for c in backfill["chunks"]]

    assert _act(caller, backfill_id, "retry").status_code == 200
    live = _live(sessions, backfill_id)
    assert [r.backfill_chunk for r in live] == [1]
    _step(sessions)
    backfill = _show(caller, backfill_id)
    assert backfill["status"] == "success"
    chunks = backfill["chunks"]
    assert [c["runId"] for c in chunks][0::2] == first_runs[0::2]  # succeeded: skipped
    assert [r["id"] for r in chunks[1]["runs"]] == [first_runs[1], chunks[1]["runId"]]
    assert [r["status"] for r in chunks[1]["runs"]] == ["failed", "success"]
    assert error_code(_act(caller, backfill_id, "retry")) == "FLOW-2304-409"


def test_dry_run_answers_the_plan_and_changes_nothing(
    caller: Caller, table_flow: str, sessions: Sessions
) -> None:
    flow_before = caller.get(f"{FS}/flows/{table_flow}").json()["items"][0]
    body = _body(table_flow, dryRun=True, windowStartTime=START + 6 * 3600)
    response = caller.post(BACKFILLS, json=body)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["dryRun"] is True
    assert plan["chunks"][0] == {
        "index": 0,
        "windowStartTime": START + 6 * 3600,
        "windowEndTime": START + DAY,
    }
    assert len(plan["chunks"]) == 4
    assert _count(sessions, Backfill) == _count(sessions, Run) == 0
    flow_after = caller.get(f"{FS}/flows/{table_flow}").json()["items"][0]
    assert flow_after["etag"] == flow_before["etag"]
    assert flow_after["transformations"] == flow_before["transformations"] == []


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"chunk": {"unit": "minute", "size": 1}}, "FLOW-2301-400"),
    ({"chunk": {"unit": "day", "size": 0}}, "FLOW-2301-400"),
    ({"chunk": {"unit": "hour"}, "windowEndTime": START + 20_000 * 3600}, "FLOW-2301-400"),
    ({"parallelism": 17}, "FLOW-2302-400"),
    ({"windowEndTime": START}, "FLOW-1381-400"),
    ({"windowEndTime": START - 1}, "FLOW-1381-400"),
    ({"windowStartTime": "yesterday"}, "FLOW-1384-400"),
    ({"deltaColumn": {"name": "no_such_column"}}, "FLOW-1000-400"),
    ({"flowId": "no-such-flow"}, "FLOW-1439-404"),
]


def test_bad_requests_are_coded_and_create_nothing(
    caller: Caller, table_flow: str, sessions: Sessions
) -> None:
    for change, code in BAD_REQUESTS:
        response = caller.post(BACKFILLS, json=_body(table_flow, **change))
        assert error_code(response) == code, (change, response.text)
    assert _count(sessions, Backfill) == _count(sessions, BackfillChunk) == 0
    assert _count(sessions, Run) == 0
    flow = caller.get(f"{FS}/flows/{table_flow}").json()["items"][0]
    assert flow["transformations"] == []


def test_another_tenants_flow_and_backfill_are_not_found(
    caller: Caller, other_caller: Caller, table_flow: str
) -> None:
    assert error_code(other_caller.post(BACKFILLS, json=_body(table_flow))) == "FLOW-1439-404"
    backfill_id = _create(caller, _body(table_flow))
    assert error_code(other_caller.get(f"{BACKFILLS}/{backfill_id}")) == "FLOW-1439-404"
    assert error_code(_act(other_caller, backfill_id, "cancel")) == "FLOW-1439-404"
    assert other_caller.get(BACKFILLS).json()["items"] == []
    assert _show(caller, backfill_id)["status"] == "running"


def test_overlapping_live_backfills_are_refused(caller: Caller, table_flow: str) -> None:
    first = _create(caller, _body(table_flow, days=2))
    overlapping = _body(table_flow, windowStartTime=START + DAY + 1, windowEndTime=START + 5 * DAY)
    response = caller.post(BACKFILLS, json=overlapping)
    assert error_code(response) == "FLOW-2303-409", response.text
    assert first in response.json()["report"]["detailed-message"]
    # Half-open ranges: the next range starting at the first one's end does not overlap.
    adjacent = _create(caller, _body(table_flow, windowStartTime=START + 2 * DAY))
    # A cancelled backfill no longer counts; the adjacent live one still does.
    assert _act(caller, first, "cancel").status_code == 200
    response = caller.post(BACKFILLS, json=overlapping)
    assert error_code(response) == "FLOW-2303-409"
    assert adjacent in response.json()["report"]["detailed-message"]
    assert _act(caller, adjacent, "cancel").status_code == 200
    third = _create(caller, overlapping)
    listed = caller.get(f"{BACKFILLS}?property=status==running").json()
    assert set(listed) == {"items", "_links"}
    assert [item["id"] for item in listed["items"]] == [third]
    assert "chunks" not in listed["items"][0]  # lists carry the progress, not every chunk
    assert listed["items"][0]["progress"]["chunks"]["total"] == 4


def test_a_backfill_never_moves_the_next_tick_nor_changes_the_delta_column(
    caller: Caller, root: Path, sessions: Sessions
) -> None:
    _base, source, target_id = table_flow_parts(caller, root)
    schedule = {"startTime": str(START * 2), "frequency": "hour", "interval": 1}
    body = flow_body(
        source,
        target_id,
        schedule=schedule,
        transformations=[{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}],
    )
    flow_id = created_id(caller.post(f"{FS}/flows", json=body))
    with transaction(sessions) as session:
        next_tick = session.get_one(Flow, flow_id).next_tick_at
    changed = _body(flow_id, deltaColumn={"name": "id"})
    assert error_code(caller.post(BACKFILLS, json=changed)) == "FLOW-1382-400"
    omitted = {k: v for k, v in _body(flow_id).items() if k != "deltaColumn"}
    backfill_id = _create(caller, omitted)
    for _ in range(3):
        _step(sessions)
    assert _show(caller, backfill_id)["status"] == "success"
    with transaction(sessions) as session:
        flow = session.get_one(Flow, flow_id)
        assert flow.next_tick_at == next_tick
        ticks = session.scalars(select(Run.tick).where(Run.flow_id == flow_id)).all()
    assert set(ticks) == {None}
    copy = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]["transformations"]
    assert copy == [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]


def test_file_flows_take_no_delta_column(caller: Caller, root: Path) -> None:
    source, target_id = file_flow_parts(caller, root)
    flow_id = created_id(
        caller.post(f"{FS}/flows", json=flow_body(source, target_id, spec=FILE_SPEC))
    )
    assert error_code(caller.post(BACKFILLS, json=_body(flow_id))) == "FLOW-1384-400"
    without = {k: v for k, v in _body(flow_id).items() if k != "deltaColumn"}
    backfill = _show(caller, _create(caller, without))
    assert "deltaColumn" not in backfill


def test_concurrent_overlapping_creates_make_one_backfill(
    caller: Caller, table_flow: str, sessions: Sessions
) -> None:
    assert (
        caller.post(
            f"{FS}/runs",
            json={
                "flowId": table_flow,
                "params": {
                    "windowStartTime": 0,
                    "windowEndTime": 1,
                    "deltaColumn": {"name": "updated_at"},
                },
            },
        ).status_code
        == 201
    )  # the delta column is set: the creates only race on the overlap
    barrier = threading.Barrier(4)
    answers: list[Any] = []

    def create(offset: int) -> None:
        barrier.wait()
        body = _body(table_flow, windowStartTime=START + offset * 3600)
        answers.append(
            caller.post(BACKFILLS, json={k: v for k, v in body.items() if k != "deltaColumn"})
        )

    threads = [threading.Thread(target=create, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    assert _count(sessions, Backfill) == 1
