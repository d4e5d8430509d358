"""Recording a run's progress and outcome: guarded by its claim, in one transaction with the
flow's last-run columns, its run event and its quarantined rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update

from sluice.connectors.errors import SourceReadError
from sluice.connectors.reading import BadRow, SourceRead
from sluice.domain.run_states import FAILED
from sluice.engine import claims
from sluice.engine.engine_context import EngineContext
from sluice.engine.metrics import RunMetrics, with_estimates
from sluice.engine.run_plan import RunFailedError, RunPlan
from sluice.lake.writer import CommitResult
from sluice.store import clock
from sluice.store.models import Flow, Run, RunBadRow
from sluice.webhooks import outbox
from sluice.webhooks.events import FLOW_RUN_FAILED, end_event

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
) -> None:
    metrics.input_files = list(read.progress.files)
    wire = with_estimates(metrics.wire("inProgress"), read.progress, plan.is_file_source)
    doc = {**plan.doc, "metrics": wire}
    claims.guarded_update(ctx.sessions, guard.claim, doc=doc)


def retry_later(
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


def fail(
    ctx: EngineContext,
    guard: claims.ClaimGuard,
    plan: RunPlan,
    metrics: RunMetrics,
    code: str,
    message: str,
) -> None:
    finish(ctx, guard, plan, Outcome(FAILED, metrics, errors=[{"code": code, "message": message}]))


def finish(ctx: EngineContext, guard: claims.ClaimGuard, plan: RunPlan, outcome: Outcome) -> None:
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


def finish_without_plan(ctx: EngineContext, claim: claims.Claim, failure: RunFailedError) -> None:
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
