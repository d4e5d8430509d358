"""Creating run rows: shared by on-demand requests, re-triggers and the scheduler.

`run_row` is the shape of a new run. The API inserts one at a time (`add_run`); the
scheduler inserts thousands per pass with `insert_tick_runs`, one statement that joins each
run to its flow in the database and builds the same row there (tests hold the two equal).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Table, insert, or_, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sluice.domain.run_states import SCHEDULED, SUCCESS
from sluice.domain.windows import Window
from sluice.store.clock import new_etag, new_id, now_ms
from sluice.store.models import Flow, Run
from sluice.store.retrigger_index import LIVE_RETRIGGER

SCHEDULER_CLIENT = "sluice-scheduler"
_RUNS = cast(Table, Run.__table__)


@dataclass(frozen=True)
class NewRun:
    """What a new run needs beyond its flow."""

    origin: str  # "onDemand" | "schedule" | "retrigger" | "backfill"
    start_at: int  # epoch seconds
    window: Window | None
    delta_column: str | None = None
    tick: int | None = None
    retry_of: str | None = None
    retry_root: str | None = None  # a re-trigger: the first run of its chain
    params: dict[str, Any] | None = None
    # File sources: the exact files to read (a re-trigger reads the original run's files).
    files: list[dict[str, Any]] | None = None
    # A backfill's chunk run: the backfill and the chunk's position.
    backfill_id: str | None = None
    backfill_chunk: int | None = None


def empty_metrics() -> dict[str, Any]:
    return {
        "durationSummary": {},
        "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
        "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
        "fileSummary": {"inputFileCount": 0, "outputFileCount": 0},
        "statusSummary": {"status": SCHEDULED, "errors": [], "activityRefs": []},
    }


def run_row(flow: Flow, new: NewRun, *, actor: str) -> dict[str, Any]:
    """Column values of a new run row (for a Core insert, single or bulk)."""
    stamp = now_ms()
    run_id = new_id()
    doc: dict[str, Any] = {
        "flowSpec": flow.doc["flowSpec"],
        "params": run_params(new),
        "metrics": empty_metrics(),
        "activities": [],
        "providerRefId": provider_ref(flow.id, new, run_id),
    }
    if new.files is not None:
        doc["files"] = new.files
    return {
        "id": run_id,
        "org_id": flow.org_id,
        "sandbox_id": flow.sandbox_id,
        "name": flow.name,
        "created_at": stamp,
        "updated_at": stamp,
        "created_by": actor,
        "updated_by": actor,
        "created_client": actor,
        "updated_client": actor,
        "etag": new_etag(),
        "doc": doc,
        "flow_id": flow.id,
        "status": SCHEDULED,
        "origin": new.origin,
        "start_at": new.start_at,
        "window_start": new.window.start if new.window else None,
        "window_end": new.window.end if new.window else None,
        "delta_column": new.delta_column,
        "tick": new.tick,
        "retry_of": new.retry_of,
        "retry_root": new.retry_root,
        "attempt": 0,
        "cancel_requested": False,
        "output_records": 0,
        "backfill_id": new.backfill_id,
        "backfill_chunk": new.backfill_chunk,
    }


def run_params(new: NewRun) -> dict[str, Any]:
    """The run's `params` document: the request's, else its start time, window and delta."""
    if new.params is not None:
        return new.params
    params: dict[str, Any] = {"startTime": new.start_at}
    if new.window is not None:
        params["windowStartTime"] = new.window.start
        params["windowEndTime"] = new.window.end
    if new.delta_column:
        params["deltaColumn"] = {"name": new.delta_column}
    return params


def provider_ref(flow_id: str, new: NewRun, run_id: str) -> str:
    return f"M-{flow_id}-{new.origin}-{new.tick or 0}:{run_id}"


def add_run(session: Session, flow: Flow, new: NewRun, *, actor: str) -> Run:
    """Insert the run with one Core statement (no unit-of-work flush on the request path).

    The returned `Run` carries the inserted values but is not attached to `session`; read
    the row again to see later changes."""
    row = run_row(flow, new, actor=actor)
    session.execute(insert(_RUNS), row)
    return Run(**row)


def add_retrigger_run(session: Session, flow: Flow, new: NewRun, *, actor: str) -> Run | None:
    """Insert a re-trigger unless its chain already has one that is live or succeeded; None
    then. The partial unique index decides (`ON CONFLICT ... DO NOTHING`), so of concurrent
    re-triggers of one failed run exactly one is inserted, on both databases, and a losing
    request leaves its transaction usable."""
    if new.retry_root is None:
        raise ValueError("A re-trigger names the first run of its chain.")
    row = run_row(flow, new, actor=actor)
    dialect = session.get_bind().dialect.name
    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(_RUNS)
    guarded = (
        statement.values(row)
        .on_conflict_do_nothing(index_elements=["retry_root"], index_where=LIVE_RETRIGGER)
        .returning(_RUNS.c.id)
    )
    inserted = session.execute(guarded).scalar_one_or_none()
    return Run(**row) if inserted is not None else None


def earlier_runs_of_input(session: Session, run: Run) -> tuple[str, ...]:
    """For a re-trigger, the other runs of its chain that did not succeed: any of them may
    have committed this input before it failed (a crash after the commit). A chain's
    successful first run is left out: it ingested nothing (else it could not be
    re-triggered), so reading its input again is the point."""
    if run.retry_root is None:
        return ()
    ids = session.scalars(
        select(Run.id).where(
            or_(Run.id == run.retry_root, Run.retry_root == run.retry_root),
            Run.id != run.id,
            Run.status != SUCCESS,
        )
    ).all()
    return tuple(sorted(ids))


# The columns `insert_tick_runs` writes, in the order of both statements' SELECT lists.
_TICK_COLUMNS = (
    "id, org_id, sandbox_id, name, created_at, updated_at, created_by, updated_by, "
    "created_client, updated_client, etag, doc, flow_id, status, origin, start_at, "
    "window_start, window_end, delta_column, tick, attempt, cancel_requested, output_records"
)
# One element of the `runs` JSON array: the values that differ from run to run. Everything
# else comes from the flow's row (joined) or is the same for every scheduled run.
_TICK_FIELDS = (
    "id varchar, flow_id varchar, tick bigint, start_at bigint, window_start bigint, "
    "window_end bigint, delta_column varchar, etag varchar, params jsonb, provider_ref varchar"
)
_INSERT_TICK_RUNS = {
    "postgresql": text(f"""
        INSERT INTO runs ({_TICK_COLUMNS})
        SELECT p.id, f.org_id, f.sandbox_id, f.name, :stamp, :stamp, :actor, :actor, :actor,
            :actor, p.etag,
            jsonb_build_object('flowSpec', f.doc -> 'flowSpec', 'params', p.params,
                'metrics', CAST(:metrics AS jsonb), 'activities', CAST('[]' AS jsonb),
                'providerRefId', p.provider_ref),
            f.id, :status, :origin, p.start_at, p.window_start, p.window_end, p.delta_column,
            p.tick, 0, false, 0
        FROM jsonb_to_recordset(CAST(:runs AS jsonb)) AS p({_TICK_FIELDS})
        JOIN flows AS f ON f.id = p.flow_id
        ON CONFLICT (flow_id, tick) DO NOTHING
    """),
    # SQLite: the same from json_each; `WHERE true` keeps the upsert clause unambiguous.
    "sqlite": text(f"""
        INSERT INTO runs ({_TICK_COLUMNS})
        SELECT json_extract(p.value, '$.id'), f.org_id, f.sandbox_id, f.name, :stamp, :stamp,
            :actor, :actor, :actor, :actor, json_extract(p.value, '$.etag'),
            json_object('flowSpec', json_extract(f.doc, '$.flowSpec'),
                'params', json_extract(p.value, '$.params'), 'metrics', json(:metrics),
                'activities', json_array(),
                'providerRefId', json_extract(p.value, '$.provider_ref')),
            f.id, :status, :origin, json_extract(p.value, '$.start_at'),
            json_extract(p.value, '$.window_start'), json_extract(p.value, '$.window_end'),
            json_extract(p.value, '$.delta_column'), json_extract(p.value, '$.tick'), 0, 0, 0
        FROM json_each(:runs) AS p
        JOIN flows AS f ON f.id = json_extract(p.value, '$.flow_id')
        WHERE true
        ON CONFLICT (flow_id, tick) DO NOTHING
    """),
}


def insert_tick_runs(session: Session, runs: Sequence[tuple[str, NewRun]], *, actor: str) -> int:
    """Insert scheduled runs, given as (flow id, run), in one statement; returns how many
    were new. A tick that already has its run is skipped (ON CONFLICT (flow_id, tick) DO
    NOTHING), and so is a run whose flow no longer exists (the join finds no flow)."""
    if not runs:
        return 0
    origins = {new.origin for _flow_id, new in runs}
    if len(origins) != 1 or any(new.files is not None for _flow_id, new in runs):
        raise ValueError("insert_tick_runs takes runs of one origin and without files.")
    payload = []
    for flow_id, new in runs:
        run_id = new_id()
        payload.append(
            {
                "id": run_id,
                "flow_id": flow_id,
                "tick": new.tick,
                "start_at": new.start_at,
                "window_start": new.window.start if new.window else None,
                "window_end": new.window.end if new.window else None,
                "delta_column": new.delta_column,
                "etag": new_etag(),
                "params": run_params(new),
                "provider_ref": provider_ref(flow_id, new, run_id),
            }
        )
    statement = _INSERT_TICK_RUNS[session.get_bind().dialect.name]
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        statement,
        {
            "runs": json.dumps(payload, separators=(",", ":")),
            "stamp": now_ms(),
            "actor": actor,
            "metrics": json.dumps(empty_metrics()),
            "status": SCHEDULED,
            "origin": origins.pop(),
        },
    )
    return result.rowcount
