"""What the dashboard shows of runs: one row per run, filters, and a run's full detail."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.domain.run_states import IN_PROGRESS, SCHEDULED, TERMINAL, can_retrigger
from sluice.domain.tenancy import Tenant
from sluice.services.runs import quarantined_rows, render_run
from sluice.store.list_query_sql import tenant_scope
from sluice.store.models import Run

STATUSES = ("scheduled", "inProgress", "success", "failed", "cancelled")
DEFAULT_RUN_LIMIT = 50
MAX_RUN_LIMIT = 500
BAD_ROWS_SHOWN = 100


@dataclass(frozen=True)
class RunFilter:
    """Which of a flow's runs to list: a status, and a span of creation times (epoch s)."""

    status: str | None = None
    created_from: int | None = None
    created_to: int | None = None
    limit: int = DEFAULT_RUN_LIMIT


@dataclass(frozen=True)
class RunRow:
    id: str
    flow_id: str
    status: str
    origin: str
    window_start: int | None  # epoch seconds
    window_end: int | None
    created_at: int  # epoch ms, like every time below
    started_at: int | None
    completed_at: int | None
    input_records: int
    output_records: int
    failed_records: int
    input_bytes: int
    output_bytes: int
    input_files: int
    output_files: int
    delta_version: int | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Sluice's extensions: warnings of a successful run, and its reconciliation.
    warnings: list[dict[str, Any]] = field(default_factory=list)
    reconciliation: dict[str, Any] | None = None
    # While a run is in progress, what it expects to read in all, when the source tells:
    # the bytes of a file run's files, a table's planner row estimate.
    expected_input_bytes: int | None = None
    expected_input_records: int | None = None

    @property
    def duration_ms(self) -> int | None:
        """Running time so far for a run in progress; None before it starts."""
        if self.started_at is None:
            return None
        end = self.completed_at if self.completed_at is not None else int(time.time() * 1000)
        return max(end - self.started_at, 0)

    @property
    def rows_per_second(self) -> float | None:
        """Records read per second of running time so far (or in all, once ended)."""
        elapsed = self.duration_ms
        if not elapsed or self.started_at is None:
            return None
        return self.input_records * 1000 / elapsed

    @property
    def share_read(self) -> float | None:
        """The part of the expected input read so far (0..1), when the source gave a total:
        file bytes, else the planner's rows (an estimate: capped at 1)."""
        if self.expected_input_bytes:
            return min(self.input_bytes / self.expected_input_bytes, 1.0)
        if self.expected_input_records:
            return min(self.input_records / self.expected_input_records, 1.0)
        return None

    @property
    def is_active(self) -> bool:
        return self.status in (SCHEDULED, IN_PROGRESS)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def can_cancel(self) -> bool:
        return self.is_active

    @property
    def can_retrigger(self) -> bool:
        return can_retrigger(self.status, self.output_records)


def _number(section: dict[str, Any], key: str) -> int:
    value = section.get(key)
    return value if isinstance(value, int) else 0


def run_row(row: Run, tenant: Tenant) -> RunRow:
    """A run as the API renders it (same metrics), flattened for a table."""
    view = render_run(row, tenant)
    metrics = view["metrics"]
    records = metrics.get("recordSummary") or {}
    sizes = metrics.get("sizeSummary") or {}
    files = metrics.get("fileSummary") or {}
    status = metrics.get("statusSummary") or {}
    return RunRow(
        id=row.id,
        flow_id=row.flow_id,
        status=row.status,
        origin=row.origin,
        window_start=row.window_start,
        window_end=row.window_end,
        created_at=row.created_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        input_records=_number(records, "inputRecordCount"),
        output_records=_number(records, "outputRecordCount"),
        failed_records=_number(records, "failedRecordCount"),
        input_bytes=_number(sizes, "inputBytes"),
        output_bytes=_number(sizes, "outputBytes"),
        input_files=_number(files, "inputFileCount"),
        output_files=_number(files, "outputFileCount"),
        delta_version=row.committed_version,
        errors=[e for e in status.get("errors") or [] if isinstance(e, dict)],
        warnings=[w for w in metrics.get("warnings") or [] if isinstance(w, dict)],
        reconciliation=(
            metrics["reconciliation"] if isinstance(metrics.get("reconciliation"), dict) else None
        ),
        expected_input_bytes=_extension(sizes, "expectedInputBytes"),
        expected_input_records=_extension(records, "expectedInputRecordCount"),
    )


def _extension(section: dict[str, Any], key: str) -> int | None:
    value = (section.get("extensions") or {}).get(key)
    return value if isinstance(value, int) else None


def flow_runs(session: Session, tenant: Tenant, flow_id: str, query: RunFilter) -> list[RunRow]:
    """The flow's runs matching the filter, newest first."""
    statement = select(Run).where(tenant_scope(Run, tenant), Run.flow_id == flow_id)
    if query.status:
        statement = statement.where(Run.status == query.status)
    if query.created_from is not None:
        statement = statement.where(Run.created_at >= query.created_from * 1000)
    if query.created_to is not None:
        statement = statement.where(Run.created_at < query.created_to * 1000)
    statement = statement.order_by(Run.created_at.desc(), Run.id.desc()).limit(query.limit)
    return [run_row(row, tenant) for row in session.scalars(statement)]


@dataclass(frozen=True)
class BadRowView:
    position: int
    location: str
    reason: str
    raw: str | None


@dataclass(frozen=True)
class RunDetail:
    run: RunRow
    flow_name: str
    params: dict[str, Any]
    activities: list[dict[str, Any]]
    bad_rows: list[BadRowView]
    retry_of: str | None
    attempt: int
    cancel_requested: bool
    delta_column: str | None


def run_detail(session: Session, tenant: Tenant, row: Run, flow_name: str) -> RunDetail:
    view = render_run(row, tenant)
    bad_rows = quarantined_rows(session, row, BAD_ROWS_SHOWN)
    return RunDetail(
        run=run_row(row, tenant),
        flow_name=flow_name,
        params=dict(view.get("params") or {}),
        activities=[a for a in view.get("activities") or [] if isinstance(a, dict)],
        bad_rows=[BadRowView(b.position, b.location, b.reason, b.raw) for b in bad_rows],
        retry_of=row.retry_of,
        attempt=row.attempt,
        cancel_requested=row.cancel_requested,
        delta_column=row.delta_column,
    )
