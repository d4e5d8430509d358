"""Executes one claimed run: extract -> map -> load, with live metrics and coded outcomes.

The run's output becomes visible in one Delta commit or not at all. Every write to the run
row presents the claim token (`engine.claims`), so a worker that lost its run cannot record
anything. Transient source errors are retried inside the run with backoff; everything else
fails the run with a `CONNECTOR-...` code and a message a person can act on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator

import pyarrow as pa
from sqlalchemy.exc import SQLAlchemyError

from sluice.connectors.errors import SourceReadError, TransientReadError
from sluice.connectors.merged_reads import read_ahead
from sluice.connectors.reading import SOURCE_FILE_COLUMN, ReadRequest, SourceRead
from sluice.domain.run_states import CANCELLED, FAILED, SUCCESS
from sluice.domain.tenancy import Tenant
from sluice.engine import claims
from sluice.engine.engine_context import EngineContext
from sluice.engine.mapping import (
    MAPPING_FAILED,
    BatchMapper,
    MappedColumn,
    MappingError,
    by_name,
    from_rules,
    incoming_schema,
)
from sluice.engine.metrics import RunMetrics
from sluice.engine.reconciliation import (
    min_rows_warning,
    mismatch_warning,
    open_window_warning,
    reconcile,
)
from sluice.engine.recording import (
    Outcome,
    finish,
    finish_without_plan,
    publish_progress,
    retry_later,
)
from sluice.engine.run_log import RunLog
from sluice.engine.run_log_messages import (
    log_commit,
    log_plan,
    log_schema_decision,
    log_source_schema,
    run_log_for,
)
from sluice.engine.run_plan import RunFailedError, RunPlan, load_plan
from sluice.engine.schema_evolution import Evolution, SchemaEvolutionError, evolve
from sluice.engine.target_schema import (
    DatasetSchema,
    existing_table_schema,
    snapshot_dataset_schema,
)
from sluice.lake.opening import TableOpening
from sluice.lake.predicates import window_predicate
from sluice.lake.schema import SYSTEM_COLUMN_NAMES, add_system_columns, dataset_type
from sluice.lake.writer import CommitResult, ConcurrentWriteError, WritePlan, write_run
from sluice.store import clock
from sluice.store.datasets import declare_new_columns
from sluice.store.db import transaction
from sluice.store.runs import SCHEDULER_CLIENT

log = logging.getLogger("sluice.runner")


class RunCancelledError(Exception):
    """Cancel was requested while the run moved data; nothing is committed."""


def execute_run(ctx: EngineContext, guard: claims.ClaimGuard) -> None:
    """Run a claimed run to its end (or give it back for a retry)."""
    claim = guard.claim
    try:
        plan = load_plan(ctx, claim)
    except RunFailedError as failure:
        finish_without_plan(ctx, claim, failure, run_log_for(ctx, claim))
        return
    metrics = RunMetrics(window=plan.window, started_at=plan.started_at)
    run_log = run_log_for(ctx, claim, plan)
    log_plan(run_log, plan)
    if plan.cancel_requested:
        finish(ctx, guard, plan, Outcome(CANCELLED, metrics), run_log)
        return
    if claim.exhausted:
        last = plan.doc.get("lastError") or {
            "code": "CONNECTOR-1001-500",
            "message": "The run's attempts are exhausted.",
        }
        finish(ctx, guard, plan, Outcome(FAILED, metrics, errors=[last]), run_log)
        return
    outcome = _execute(ctx, guard, plan, metrics, run_log)
    if outcome is not None:
        finish(ctx, guard, plan, outcome, run_log)


def _execute(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    metrics: RunMetrics,
    run_log: RunLog,
) -> Outcome | None:
    """Move the data; the outcome to record, or None when nothing (more) is to be recorded."""
    claim = guard.claim
    try:
        commit = _move_data(ctx, guard, plan, metrics, run_log)
    except claims.StaleClaimError:
        log.warning("run %s was taken over; this worker stops without recording", plan.run_id)
        return None
    except RunCancelledError:
        return None if guard.lost() else Outcome(CANCELLED, metrics)
    except SourceReadError as error:
        if error.transient and claim.attempt < claims.MAX_ATTEMPTS:
            retry_later(ctx, claim, plan, metrics, error, run_log)
            return None
        return _failed(metrics, error.code, error.message)
    except RunFailedError as failure:
        return _failed(metrics, failure.code, failure.message)
    except ConcurrentWriteError as error:
        # Another run committed to the dataset meanwhile: retrying the attempt is safe.
        transient = TransientReadError(str(error), code="CONNECTOR-3001-500")
        if claim.attempt < claims.MAX_ATTEMPTS:
            retry_later(ctx, claim, plan, metrics, transient, run_log)
            return None
        return _failed(metrics, transient.code, transient.message)
    except Exception as error:
        log.exception("run %s failed while writing", plan.run_id)
        return _failed(
            metrics,
            "CONNECTOR-3001-500",
            f"Writing to the dataset failed: {type(error).__name__}: {error}",
        )
    if metrics.landed_by_run is None:
        missed = min_rows_warning(plan.expectations.min_rows_per_run, metrics.output_records)
        if missed is not None:
            metrics.warnings.append(missed)
            metrics.expectation_failed = True
    return Outcome(SUCCESS, metrics, commit=commit, errors=metrics.partial_errors())


def _failed(metrics: RunMetrics, code: str, message: str) -> Outcome:
    return Outcome(FAILED, metrics, errors=[{"code": code, "message": message}])


def _move_data(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    metrics: RunMetrics,
    run_log: RunLog,
) -> CommitResult:
    still_open = open_window_warning(plan.window, clock.now_ms() // 1000)
    if still_open is not None:
        metrics.warnings.append(still_open)
    request = ReadRequest(
        window=plan.window,
        delta_column=plan.delta_column,
        timezone=plan.timezone,
        files=plan.files,
        parallelism=plan.parallelism,
    )
    # Opened once, while the source read starts: the write brings this snapshot up to date
    # rather than opening the table again.
    opening = TableOpening(plan.table)
    try:
        read: SourceRead = plan.endpoints.connector.read(
            ctx.connectors, plan.endpoints.auth_params, plan.endpoints.source, request
        )
    except BaseException:
        opening.wait()  # the source's refusal is the run's error, not the lake's
        raise
    try:
        # Everything that can refuse the run is decided here, before anything is written.
        log_source_schema(run_log, read.schema)
        snapshot = opening.result()
        dataset = snapshot_dataset_schema(snapshot, plan.endpoints.dataset.doc.get("schema"))
        columns = _mapped_columns(plan, read.schema, dataset)
        evolution = _evolve(plan, columns, dataset)
        log_schema_decision(run_log, evolution, plan.schema_evolution)
        target = evolution.data_schema
        write_plan = WritePlan(
            table=plan.table,
            run_id=plan.run_id,
            mode=plan.write_mode,  # type: ignore[arg-type]
            replace_predicate=_replace_predicate(plan, target),
            merge_keys=plan.primary_key,
            merge_schema=evolution.merge_schema,
            earlier_runs=plan.earlier_runs,
        )
        try:
            mapper = BatchMapper(target, location_column=SOURCE_FILE_COLUMN, columns=columns)
        except MappingError as error:
            raise RunFailedError(
                MAPPING_FAILED, f"The mapping set cannot be applied: {error}."
            ) from None
        batches = _stream(ctx, guard, plan, read, mapper, metrics, evolution.write_schema, run_log)
        try:
            commit = write_run(write_plan, evolution.write_schema, batches, snapshot)
        finally:
            # A write that failed midway leaves the stream suspended: closing it stops the
            # read-ahead thread before the read is closed below, never while that thread is
            # still using the read's connection (it could hang the run).
            batches.close()
    finally:
        # Recorded even when the run fails: a re-trigger must read exactly these files.
        metrics.input_files = list(read.progress.files)
        read.close()
        run_log.progress(metrics, force=True)
    metrics.record_commit(commit, files=read.progress.files)
    _reconcile(plan, read, metrics, commit)
    log_commit(run_log, commit, metrics)
    _declare_new_columns(ctx, plan, evolution, commit)
    return commit


def _reconcile(
    plan: RunPlan, read: SourceRead, metrics: RunMetrics, commit: CommitResult
) -> None:
    """Source against landed, once the data is committed. A run whose input an earlier run
    of its chain landed, or whose commit an earlier attempt made (this attempt wrote nothing,
    and its bad rows are unknown), has nothing of its own to reconcile."""
    if metrics.landed_by_run is not None or commit.already_committed:
        return
    metrics.reconciliation = reconcile(
        read.progress,
        is_file_source=plan.is_file_source,
        landed=metrics.output_records,
        bad_rows=metrics.failed_records,
    )
    if metrics.reconciliation is not None and not metrics.reconciliation["matched"]:
        metrics.warnings.append(mismatch_warning(metrics.reconciliation))


def _mapped_columns(plan: RunPlan, source: pa.Schema, dataset: DatasetSchema) -> list[MappedColumn]:
    if plan.mapping is None:
        return by_name(source, typed=plan.typed_source, skip=(SOURCE_FILE_COLUMN,))
    try:
        return from_rules(source, plan.mapping, dataset.column_type, typed=plan.typed_source)
    except MappingError as error:
        raise RunFailedError(
            MAPPING_FAILED, f"The mapping set cannot be applied: {error}."
        ) from None


def _evolve(plan: RunPlan, columns: list[MappedColumn], dataset: DatasetSchema) -> Evolution:
    try:
        return evolve(
            incoming_schema(columns),
            table=dataset.table,
            catalog=dataset.catalog,
            option=plan.schema_evolution,
            untyped={c.name for c in columns if not c.typed},
            file_source=plan.is_file_source,
        )
    except SchemaEvolutionError as error:
        raise RunFailedError(error.code, error.message) from None


def _declare_new_columns(
    ctx: EngineContext, plan: RunPlan, evolution: Evolution, commit: CommitResult
) -> None:
    """After the commit: columns the table gained join the dataset's declared schema.

    An attempt that finds its run already committed (the previous one died before getting
    here) declares whatever the table has that the catalog lacks.
    """
    if commit.version is None or not (evolution.added or commit.already_committed):
        return
    table = existing_table_schema(plan.table)
    if table is None:
        return
    wanted = {f.name for f in evolution.added}
    columns = [
        (f.name, dataset_type(f.type))
        for f in table
        if f.name not in SYSTEM_COLUMN_NAMES and (commit.already_committed or f.name in wanted)
    ]
    dataset = plan.endpoints.dataset
    tenant = Tenant(dataset.org_id, dataset.sandbox_id, "", SCHEDULER_CLIENT)
    try:
        with transaction(ctx.sessions) as session:
            declare_new_columns(session, tenant, dataset.id, columns)
    except SQLAlchemyError:
        # The data is committed; the catalog catches up with the table's next new column.
        log.exception("run %s: could not declare the dataset's new columns", plan.run_id)


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
    run_log: RunLog,
) -> Generator[pa.RecordBatch, None, None]:
    """Map, tag and count each batch; publish progress; stop on cancel or a lost claim.

    Raising from here aborts the Delta write before its commit, so a cancelled run, a lost
    claim or a failed share above the threshold leaves the dataset unchanged.
    """
    ingested_at = clock.utc_now()
    rows_seen = 0
    # Published once before the first batch: what the read expects in all (its files'
    # sizes, a planner's estimate) shows while a slow source has not answered yet.
    publish_progress(ctx, guard, plan, metrics, read, run_log)
    last_publish = clock.monotonic_seconds()
    with contextlib.closing(read_ahead(read)) as batches:  # stops the read-ahead thread
        for batch in batches:
            if guard.should_stop():
                raise RunCancelledError
            mapped = mapper.map(batch, rows_seen)
            rows_seen += batch.num_rows
            metrics.add_batch(batch.num_rows, mapped.batch.num_rows, mapped.bad_rows, batch.nbytes)
            run_log.batches += 1
            source_file = _source_file(batch) if plan.is_file_source else None
            run_log.file_started(source_file, metrics)
            tagged = add_system_columns(mapped.batch, plan.run_id, ingested_at, source_file)
            if not tagged.schema.equals(schema):
                tagged = tagged.select(schema.names).cast(schema)
            yield tagged
            now = clock.monotonic_seconds()
            if now - last_publish >= ctx.progress_interval_seconds:
                last_publish = now
                publish_progress(ctx, guard, plan, metrics, read, run_log)
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
