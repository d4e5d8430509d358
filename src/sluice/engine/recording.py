"""Recording a run's progress and outcome: guarded by its claim, in one transaction with the
flow's last-run columns, its run event and its quarantined rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update

from sluice.connectors.errors import SourceReadError
from sluice.connectors.reading import BadRow, SourceRead
from sluice.domain.expectations import MIN_ROWS_PER_RUN
from sluice.domain.run_states import FAILED, SUCCESS
from sluice.engine import claims
from sluice.engine.engine_context import EngineContext
from sluice.engine.metrics import RunMetrics, with_estimates
from sluice.engine.run_log import RunLog, counters_of
from sluice.engine.run_plan import RunFailedError, RunPlan
from sluice.lake.writer import CommitResult
from sluice.store import clock
from sluice.store.models import Flow, Run, RunBadRow
from sluice.webhooks import outbox
from sluice.webhooks.events import (
    FLOW_EXPECTATION_FAILED,
    FLOW_RUN_FAILED,
    FLOW_RUN_RECONCILIATION_MISMATCH,
    end_event,
)

log = logging.getLogger("sluice.runner")


@dataclass
class Outcome:
    status: str
    metrics: RunMetrics
    commit: CommitResult | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


def publish_progress(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    metrics: RunMetrics,
    read: SourceRead,
    run_log: RunLog,
) -> None:
    metrics.input_files = list(read.progress.files)
    wire = with_estimates(metrics.wire("inProgress"), read.progress, plan.is_file_source)
    doc = {**plan.doc, "metrics": wire}
    run_log.progress(metrics)
    with claims.write_transaction(ctx.sessions) as session:
        claims.guarded_update(session, guard.claim, doc=doc)
        run_log.flush(session)


def retry_later(
    ctx: EngineContext,
    claim: claims.Claim,
    plan: RunPlan,
    metrics: RunMetrics,
    error: SourceReadError,
    run_log: RunLog,
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
    run_log.warning(
        "retry",
        f"Attempt {claim.attempt} of {claims.MAX_ATTEMPTS} hit a transient error "
        f"({error.code}): {error.message} Retrying in {(retry_at - clock.now_ms()) // 1000} s.",
        counters_of(metrics),
    )
    try:
        with claims.write_transaction(ctx.sessions) as session:
            claims.release_for_retry(session, claim, retry_at_ms=retry_at, doc=doc)
            run_log.flush(session, final=True)
    except claims.StaleClaimError:
        return


def fail(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    metrics: RunMetrics,
    code: str,
    message: str,
    run_log: RunLog,
) -> None:
    outcome = Outcome(FAILED, metrics, errors=[{"code": code, "message": message}])
    finish(ctx, guard, plan, outcome, run_log)


def finish(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    outcome: Outcome,
    run_log: RunLog,
) -> None:
    completed = clock.now_ms()
    metrics = outcome.metrics
    _log_outcome(run_log, outcome, completed - plan.started_at)
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
                reconciled=metrics.reconciled,
                expectation_failed=metrics.expectation_failed,
            )
            _record_last_run(session, plan, outcome.status, completed)
            event = end_event(outcome.status)
            if event is not None:
                outbox.record_run_event(session, plan.run_id, event, now_ms=completed)
            _record_warning_events(session, plan, outcome, completed)
            if plan.error_diagnostics:
                _store_bad_rows(session, plan.run_id, metrics.bad_rows[: ctx.max_bad_rows_kept])
            run_log.flush(session, final=True)
    except claims.StaleClaimError:
        log.warning("run %s was taken over before it could be recorded", plan.run_id)


def _record_warning_events(
    session: Any, plan: RunPlan, outcome: Outcome, completed: int
) -> None:
    """The events of a successful run's warnings, in the transaction that records its end."""
    if outcome.status != SUCCESS:
        return
    metrics = outcome.metrics
    if metrics.reconciled is False:
        extra: dict[str, Any] = {"reconciliation": metrics.reconciliation}
        outbox.record_run_event(
            session, plan.run_id, FLOW_RUN_RECONCILIATION_MISMATCH, extra=extra, now_ms=completed
        )
    if metrics.expectation_failed:
        extra = {
            "expectation": MIN_ROWS_PER_RUN,
            "minRowsPerRun": plan.expectations.min_rows_per_run,
            "landedCount": metrics.output_records,
        }
        outbox.record_run_event(
            session, plan.run_id, FLOW_EXPECTATION_FAILED, extra=extra, now_ms=completed
        )


def finish_without_plan(
    ctx: EngineContext, claim: claims.Claim, failure: RunFailedError, run_log: RunLog
) -> None:
    completed = clock.now_ms()
    run_log.error("end", f"Run failed before moving data ({failure.code}): {failure.message}")
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
            run_log.flush(session, final=True)
    except claims.StaleClaimError:
        return


def _log_outcome(run_log: RunLog, outcome: Outcome, elapsed_ms: int) -> None:
    metrics = outcome.metrics
    counters = counters_of(metrics)
    seconds = max(elapsed_ms, 0) / 1000
    rate = f", {metrics.input_records / seconds:,.0f} records/s" if seconds > 0 else ""
    summary = (
        f"{metrics.input_records:,} records read, {metrics.output_records:,} written, "
        f"{metrics.failed_records:,} failed in {seconds:,.1f} s{rate}"
    )
    if outcome.status == FAILED:
        for error in outcome.errors:
            run_log.error("end", f"Run failed ({error.get('code')}): {error.get('message')}")
        run_log.error("end", f"Run failed: {summary}", counters)
    else:
        level = "warning" if outcome.errors else "info"
        verb = {"success": "succeeded", "cancelled": "was cancelled"}.get(outcome.status)
        run_log.add(level, "end", f"Run {verb or outcome.status}: {summary}", counters)


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
