"""What a run's log says at each stage: plan, source schema, schema decisions, commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from sluice.connectors.reading import SOURCE_FILE_COLUMN
from sluice.domain.secrets import secret_values
from sluice.engine import claims
from sluice.engine.engine_context import EngineContext
from sluice.engine.metrics import RunMetrics
from sluice.engine.run_log import RunLog, counters_of
from sluice.engine.run_plan import RunPlan
from sluice.engine.schema_evolution import Evolution
from sluice.lake.writer import CommitResult

_COLUMNS_LISTED = 20


def run_log_for(ctx: EngineContext, claim: claims.Claim, plan: RunPlan | None = None) -> RunLog:
    """The attempt's log, scrubbing the source connection's secrets from every message."""
    secrets: list[str] = []
    if plan is not None:
        for auth in plan.endpoints.connector.spec.auth_specs:
            secrets += secret_values(plan.endpoints.auth_params, auth.secret_fields)
    run_log = RunLog(
        claim.run_id,
        claim.attempt,
        max_entries=ctx.max_log_entries,
        secrets=secrets,
        first_progress_interval_ms=int(ctx.progress_interval_seconds * 1000),
    )
    run_log.info("claim", f"Attempt {claim.attempt} claimed by worker {claim.worker_id}")
    return run_log


def _iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")


def log_plan(run_log: RunLog, plan: RunPlan) -> None:
    if plan.window is None:
        window = "a full load (no window)"
    else:
        window = f"window [{_iso(plan.window.start)}, {_iso(plan.window.end)})"
        if plan.delta_column:
            window += f" on delta column {plan.delta_column}"
    keys = f" on primary key {', '.join(plan.primary_key)}" if plan.primary_key else ""
    params = plan.endpoints.source.get("params") or {}
    source = plan.endpoints.connector.spec.name
    if params.get("tableName"):
        source += f" table {params['tableName']}"
    elif params.get("path"):
        source += f" path {params['path']}"
    mapping = "a mapping set" if plan.mapping is not None else "columns by name"
    run_log.info(
        "plan",
        f"Plan: {window} from {source} into dataset {plan.endpoints.dataset.name} "
        f"({plan.write_mode}{keys}, {mapping}, schema evolution {plan.schema_evolution})",
    )
    if plan.files is not None:
        run_log.info("plan", f"Re-reading the {len(plan.files):,} files of the original run")
    if plan.earlier_runs:
        run_log.info(
            "plan",
            f"A re-trigger: lands nothing if {', '.join(plan.earlier_runs)} committed already",
        )


def log_source_schema(run_log: RunLog, schema: pa.Schema) -> None:
    fields = [f for f in schema if f.name != SOURCE_FILE_COLUMN]  # the reader's own tag
    shown = ", ".join(f"{f.name} {f.type}" for f in fields[:_COLUMNS_LISTED])
    more = f", ... ({len(fields) - _COLUMNS_LISTED} more)" if len(fields) > _COLUMNS_LISTED else ""
    run_log.info("reflect", f"Source has {len(fields)} columns: {shown}{more}")


def log_schema_decision(run_log: RunLog, evolution: Evolution, option: str) -> None:
    if evolution.added:
        names = ", ".join(f"{f.name} {f.type}" for f in evolution.added)
        run_log.info("schema", f"The dataset gains {len(evolution.added)} columns: {names}")
    if evolution.dropped:
        names = ", ".join(evolution.dropped)
        run_log.warning(
            "schema",
            f"Left out {len(evolution.dropped)} new columns (schema evolution {option}): {names}",
        )
    if not evolution.added and not evolution.dropped:
        run_log.info("schema", "The source columns match the dataset's schema")


def log_commit(run_log: RunLog, commit: CommitResult, metrics: RunMetrics) -> None:
    counters = counters_of(metrics)
    if commit.committed_by_run:
        run_log.info(
            "commit",
            f"Nothing written: run {commit.committed_by_run} already committed this input "
            f"(Delta version {commit.version})",
            counters,
        )
    elif commit.already_committed:
        run_log.info(
            "commit",
            f"Nothing written: an earlier attempt committed Delta version {commit.version}",
            counters,
        )
    elif commit.version is None:
        run_log.info("commit", "Nothing to commit: the window had no records", counters)
    else:
        run_log.info(
            "commit",
            f"Committed Delta version {commit.version}: {commit.rows_written:,} rows in "
            f"{commit.files_added:,} files ({commit.bytes_written:,} bytes)",
            counters,
        )
