"""Executes one claimed run: extract -> map -> load, with live metrics and coded outcomes.

The run's output becomes visible in one Delta commit or not at all. Every write to the run
row presents the claim token (`engine.claims`), so a worker that lost its run cannot record
anything. Transient source errors are retried inside the run with backoff; everything else
fails the run with a `CONNECTOR-...` code and a message a person can act on.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import insert, update

from sluice.connectors.reading import (
    BadRow,
    ReadRequest,
    SourceFile,
    SourceRead,
    SourceReadError,
)
from sluice.domain.errors import SluiceError
from sluice.domain.flow_specs import default_write_mode, find_flow_spec
from sluice.domain.run_states import CANCELLED, FAILED, SUCCESS
from sluice.domain.tenancy import Tenant
from sluice.domain.windows import Window
from sluice.engine import claims
from sluice.engine.context import EngineContext
from sluice.engine.mapping import BatchMapper
from sluice.engine.metrics import RunMetrics
from sluice.engine.target_schema import target_schema
from sluice.lake.predicates import window_predicate
from sluice.lake.schema import add_system_columns, with_system_columns
from sluice.lake.writer import CommitResult, ConcurrentWriteError, WritePlan, write_run
from sluice.services.datasets import table_location
from sluice.services.flow_sources import FlowEndpoints, resolve_endpoints
from sluice.store import clock
from sluice.store.models import Flow, Run, RunBadRow
from sluice.store.runs import SCHEDULER_CLIENT
from sluice.webhooks import outbox
from sluice.webhooks.events import FLOW_RUN_FAILED, end_event

log = logging.getLogger("sluice.runner")
SOURCE_FILE_COLUMN = "_sluice_source_file"


class RunFailedError(Exception):
    """Ends the run as failed with a coded error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RunCancelledError(Exception):
    """Cancel was requested while the run moved data; nothing is committed."""


@dataclass
class RunPlan:
    """Everything about the run read from the database before any data moves."""

    run_id: str
    flow_id: str
    window: Window | None
    delta_column: str | None
    timezone: str
    write_mode: str
    primary_key: tuple[str, ...]
    error_diagnostics: bool
    partial_percent: float
    files: tuple[SourceFile, ...] | None
    doc: dict[str, Any]
    endpoints: FlowEndpoints
    table_uri: str
    started_at: int
    target_connection_id: str
    is_file_source: bool
    cancel_requested: bool


@dataclass
class Outcome:
    status: str
    metrics: RunMetrics
    commit: CommitResult | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


def execute_run(ctx: EngineContext, guard: claims.ClaimGuard) -> None:
    """Run a claimed run to its end (or give it back for a retry)."""
    claim = guard.claim
    try:
        plan = _load_plan(ctx, claim)
    except RunFailedError as failure:
        _finish_without_plan(ctx, claim, failure)
        return
    metrics = RunMetrics(window=plan.window, started_at=plan.started_at)
    if plan.cancel_requested:
        _finish(ctx, guard, plan, Outcome(CANCELLED, metrics))
        return
    if claim.exhausted:
        last = plan.doc.get("lastError") or {
            "code": "CONNECTOR-1001-500",
            "message": "The run's attempts are exhausted.",
        }
        _finish(ctx, guard, plan, Outcome(FAILED, metrics, errors=[last]))
        return
    try:
        commit = _move_data(ctx, guard, plan, metrics)
    except claims.StaleClaimError:
        log.warning("run %s was taken over; this worker stops without recording", plan.run_id)
        return
    except RunCancelledError:
        if guard.lost():
            return
        _finish(ctx, guard, plan, Outcome(CANCELLED, metrics))
        return
    except SourceReadError as error:
        if error.transient and claim.attempt < claims.MAX_ATTEMPTS:
            _retry_later(ctx, claim, plan, metrics, error)
            return
        _fail(ctx, guard, plan, metrics, error.code, error.message)
        return
    except RunFailedError as failure:
        _fail(ctx, guard, plan, metrics, failure.code, failure.message)
        return
    except ConcurrentWriteError as error:
        # Another run committed to the dataset meanwhile: retrying the attempt is safe.
        transient = SourceReadError(str(error), transient=True, code="CONNECTOR-3001-500")
        if claim.attempt < claims.MAX_ATTEMPTS:
            _retry_later(ctx, claim, plan, metrics, transient)
        else:
            _fail(ctx, guard, plan, metrics, transient.code, transient.message)
        return
    except Exception as error:
        log.exception("run %s failed while writing", plan.run_id)
        _fail(
            ctx,
            guard,
            plan,
            metrics,
            "CONNECTOR-3001-500",
            f"Writing to the dataset failed: {type(error).__name__}: {error}",
        )
        return
    _finish(
        ctx, guard, plan, Outcome(SUCCESS, metrics, commit=commit, errors=metrics.partial_errors())
    )


def _load_plan(ctx: EngineContext, claim: claims.Claim) -> RunPlan:
    with ctx.sessions() as session:
        run = session.get(Run, claim.run_id)
        flow = session.get(Flow, run.flow_id) if run is not None else None
        if run is None or flow is None:
            raise RunFailedError("CONNECTOR-1001-500", "The run or its flow no longer exists.")
        tenant = Tenant(run.org_id, run.sandbox_id, "", SCHEDULER_CLIENT)
        try:
            endpoints = resolve_endpoints(session, tenant, flow, ctx.secret_box)
        except SluiceError as error:
            raise RunFailedError("CONNECTOR-1001-500", error.message) from None
        spec = find_flow_spec(flow.flow_spec_id)
        options = dict(flow.doc.get("options") or {})
        source_kind = spec.source_kind if spec else "table"
        window = (
            Window(run.window_start, run.window_end)
            if run.window_start is not None and run.window_end is not None
            else None
        )
        files = run.doc.get("files")
        return RunPlan(
            run_id=run.id,
            flow_id=flow.id,
            window=window,
            delta_column=run.delta_column,
            timezone=_timezone(flow),
            write_mode=str(options.get("writeMode") or default_write_mode(source_kind)),
            primary_key=tuple(options.get("primaryKey") or ()),
            error_diagnostics=bool(options.get("errorDiagnosticsEnabled", False)),
            partial_percent=float(options.get("partialIngestionPercent", 0) or 0),
            files=tuple(SourceFile(**f) for f in files) if files is not None else None,
            doc=dict(run.doc),
            endpoints=endpoints,
            table_uri=str(table_location(ctx.lake_dir, endpoints.dataset)),
            started_at=run.started_at or clock.now_ms(),
            target_connection_id=flow.doc["targetConnectionIds"][0],
            is_file_source=source_kind == "file",
            cancel_requested=run.cancel_requested,
        )


def _timezone(flow: Flow) -> str:
    for item in flow.doc.get("transformations", []):
        if str(item.get("name", "")).lower() == "copy":
            delta = (item.get("params") or {}).get("deltaColumn") or {}
            return str(delta.get("timezone") or "UTC")
    return "UTC"


def _move_data(
    ctx: EngineContext, guard: claims.ClaimGuard, plan: RunPlan, metrics: RunMetrics
) -> CommitResult:
    opener = plan.endpoints.spec.open_source
    if opener is None:
        raise RunFailedError(
            "CONNECTOR-1001-500", f"Connector '{plan.endpoints.spec.name}' cannot be read yet."
        )
    request = ReadRequest(
        window=plan.window, delta_column=plan.delta_column, timezone=plan.timezone, files=plan.files
    )
    read: SourceRead = opener(
        ctx.connectors, plan.endpoints.auth_params, plan.endpoints.source, request
    )
    try:
        target = target_schema(
            plan.table_uri,
            plan.endpoints.dataset.doc.get("schema"),
            read.schema,
            drop=(SOURCE_FILE_COLUMN,),
        )
        full_schema = with_system_columns(target, file_source=plan.is_file_source)
        write_plan = WritePlan(
            table_uri=plan.table_uri,
            run_id=plan.run_id,
            mode=plan.write_mode,  # type: ignore[arg-type]
            replace_predicate=_replace_predicate(plan, target),
            merge_keys=plan.primary_key,
        )
        mapper = BatchMapper(target, location_column=SOURCE_FILE_COLUMN)
        batches = _stream(ctx, guard, plan, read, mapper, metrics, full_schema)
        commit = write_run(write_plan, full_schema, batches)
        if ctx.fault_injection == "kill-after-commit" and commit.version is not None:
            # Die like a SIGKILLed worker: committed, not recorded (crash-recovery tests).
            os.kill(os.getpid(), signal.SIGKILL)
    finally:
        # Recorded even when the run fails: a re-trigger must read exactly these files.
        metrics.input_files = list(read.progress.files)
        read.close()
    metrics.record_commit(commit, files=read.progress.files)
    return commit


def _replace_predicate(plan: RunPlan, target: pa.Schema) -> str | None:
    if plan.write_mode != "replaceWindow" or plan.window is None or not plan.delta_column:
        return None
    index = target.get_field_index(plan.delta_column)
    if index < 0:  # the request may name `DOB` for a column stored as `dob`
        folded = [
            i for i, f in enumerate(target) if f.name.casefold() == plan.delta_column.casefold()
        ]
        index = folded[0] if len(folded) == 1 else -1
    if index < 0:
        raise RunFailedError(
            "CONNECTOR-2001-500",
            f"The dataset has no column '{plan.delta_column}' to replace the window on; add it "
            "to the dataset schema or use writeMode append.",
        )
    field = target.field(index)
    return window_predicate(field.name, field.type, plan.window, plan.timezone)


def _stream(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    read: SourceRead,
    mapper: BatchMapper,
    metrics: RunMetrics,
    schema: pa.Schema,
) -> Iterator[pa.RecordBatch]:
    """Map, tag and count each batch; publish progress; stop on cancel or a lost claim.

    Raising from here aborts the Delta write before its commit, so a cancelled run, a lost
    claim or a failed share above the threshold leaves the dataset unchanged.
    """
    ingested_at = clock.utc_now()
    rows_seen = 0
    last_publish = 0.0
    for batch in read.batches():
        if guard.should_stop():
            raise RunCancelledError
        mapped = mapper.map(batch, rows_seen)
        rows_seen += batch.num_rows
        metrics.add_batch(batch.num_rows, mapped.batch.num_rows, mapped.bad_rows, batch.nbytes)
        source_file = _source_file(batch) if plan.is_file_source else None
        tagged = add_system_columns(mapped.batch, plan.run_id, ingested_at, source_file)
        yield tagged if tagged.schema.equals(schema) else tagged.select(schema.names).cast(schema)
        now = clock.monotonic_seconds()
        if now - last_publish >= ctx.progress_interval_seconds:
            last_publish = now
            _publish_progress(ctx, guard, plan, metrics, read)
    metrics.add_read_bad_rows(read.progress.bad_rows)
    if metrics.failed_share_percent() > plan.partial_percent:
        raise RunFailedError(
            "CONNECTOR-2001-500",
            f"{metrics.failed_records} of {metrics.input_records} records failed parsing or "
            f"casting ({metrics.failed_share_percent():.2f}%), above the flow's "
            f"partialIngestionPercent of {plan.partial_percent:g}%; nothing was written. "
            "See the run's badRows for the reasons.",
        )


def _source_file(batch: pa.RecordBatch) -> str | None:
    """File readers yield batches of one file each, tagged with its path."""
    index = batch.schema.get_field_index(SOURCE_FILE_COLUMN)
    if index < 0 or batch.num_rows == 0:
        return None
    value = batch.column(index)[0].as_py()
    return str(value) if value is not None else None


def _publish_progress(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    metrics: RunMetrics,
    read: SourceRead,
) -> None:
    metrics.input_files = list(read.progress.files)
    doc = {**plan.doc, "metrics": metrics.wire("inProgress")}
    claims.guarded_update(ctx.sessions, guard.claim, doc=doc)


def _retry_later(
    ctx: EngineContext,
    claim: claims.Claim,
    plan: RunPlan,
    metrics: RunMetrics,
    error: SourceReadError,
) -> None:
    retry_at = clock.now_ms() + claims.backoff_ms(claim.attempt)
    log.warning(
        "run %s attempt %d: transient error, retrying at %d: %s",
        plan.run_id,
        claim.attempt,
        retry_at,
        error.message,
    )
    doc = {
        **plan.doc,
        "metrics": metrics.wire("inProgress"),
        "lastError": {"code": error.code, "message": error.message},
    }
    try:
        claims.release_for_retry(ctx.sessions, claim, retry_at_ms=retry_at, doc=doc)
    except claims.StaleClaimError:
        return


def _fail(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    metrics: RunMetrics,
    code: str,
    message: str,
) -> None:
    _finish(ctx, guard, plan, Outcome(FAILED, metrics, errors=[{"code": code, "message": message}]))


def _finish(ctx: EngineContext, guard: claims.ClaimGuard, plan: RunPlan, outcome: Outcome) -> None:
    completed = clock.now_ms()
    metrics = outcome.metrics
    doc = {
        **plan.doc,
        "metrics": metrics.wire(outcome.status, errors=outcome.errors, completed_at=completed),
        "activities": metrics.activities(
            status=outcome.status,
            completed_at=completed,
            dataset_id=plan.endpoints.dataset.id,
            target_connection_id=plan.target_connection_id,
            commit=outcome.commit,
            errors=outcome.errors,
        ),
    }
    if plan.is_file_source and metrics.input_files:
        # A re-trigger of this run reads exactly these files.
        doc["files"] = [vars(f) for f in metrics.input_files]
    doc.pop("lastError", None)
    version = outcome.commit.version if outcome.commit else None
    try:
        with claims.write_transaction(ctx.sessions) as session:
            claims.finish_run(
                session,
                guard.claim,
                status=outcome.status,
                completed_at_ms=completed,
                doc=doc,
                output_records=metrics.output_records,
                output_bytes=metrics.output_bytes,
                committed_version=version,
            )
            _record_last_run(session, plan, outcome.status, completed)
            event = end_event(outcome.status)
            if event is not None:
                outbox.record_run_event(session, plan.run_id, event, now_ms=completed)
            if plan.error_diagnostics:
                _store_bad_rows(session, plan.run_id, metrics.bad_rows[: ctx.max_bad_rows_kept])
    except claims.StaleClaimError:
        log.warning("run %s was taken over before it could be recorded", plan.run_id)


def _finish_without_plan(ctx: EngineContext, claim: claims.Claim, failure: RunFailedError) -> None:
    completed = clock.now_ms()
    errors = [{"code": failure.code, "message": failure.message}]
    with ctx.sessions() as session:
        run = session.get(Run, claim.run_id)
        doc = dict(run.doc) if run is not None else {}
    metrics = dict(doc.get("metrics") or {})
    metrics["statusSummary"] = {"status": FAILED, "errors": errors, "activityRefs": []}
    try:
        with claims.write_transaction(ctx.sessions) as session:
            claims.finish_run(
                session,
                claim,
                status=FAILED,
                completed_at_ms=completed,
                doc={**doc, "metrics": metrics},
                output_records=0,
                committed_version=None,
            )
            outbox.record_run_event(session, claim.run_id, FLOW_RUN_FAILED, now_ms=completed)
    except claims.StaleClaimError:
        return


def _record_last_run(session: Any, plan: RunPlan, status: str, completed: int) -> None:
    # A Core UPDATE: the flow's etag stays, since a run is not a change of the flow.
    session.execute(
        update(Flow)
        .where(Flow.id == plan.flow_id)
        .values(
            last_run_id=plan.run_id,
            last_run_status=status,
            last_run_started_at=plan.started_at,
            last_run_completed_at=completed,
        )
        .execution_options(synchronize_session=False)
    )


def _store_bad_rows(session: Any, run_id: str, rows: list[BadRow]) -> None:
    if rows:
        session.execute(
            insert(RunBadRow),
            [
                {
                    "run_id": run_id,
                    "position": i,
                    "location": r.location[:1024],
                    "reason": r.reason,
                    "raw": r.raw,
                }
                for i, r in enumerate(rows)
            ],
        )
