"""A run's structured log as the API and the dashboard show it (a Sluice extension)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.services.runs import runs
from sluice.store import run_logs
from sluice.store.models import RunLogEntry

MAX_LOG_PAGE = 1000


def render_entry(entry: RunLogEntry) -> dict[str, Any]:
    moment = datetime.fromtimestamp(entry.at / 1000, UTC)
    return {
        "seq": entry.seq,
        "timestamp": entry.at,
        "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "attempt": entry.attempt,
        "level": entry.level,
        "stage": entry.stage,
        "message": entry.message,
        "counters": entry.counters or {},
    }


def log_page(
    session: Session, tenant: Tenant, run_id: str, *, after_seq: int, limit: int
) -> dict[str, Any]:
    """Entries after `after_seq`, with the run's status read first: a page that says the run
    ended holds every entry up to its end (the end and its last entries commit together)."""
    run = runs.get(session, tenant, run_id)
    status = str(run.status)
    entries = run_logs.page(session, run.id, after_seq=after_seq, limit=limit)
    last = entries[-1].seq if entries else after_seq
    return {
        "items": [render_entry(e) for e in entries],
        "runStatus": status,
        "since": last,
        "_links": {"next": {"href": f"/runs/{run.id}/logs?since={last}&limit={limit}"}},
    }


def latest_entries(
    session: Session, run_id: str, limit: int = MAX_LOG_PAGE
) -> list[dict[str, Any]]:
    """The run's entries for the dashboard, oldest first (a run keeps a few hundred at most)."""
    return [render_entry(e) for e in run_logs.page(session, run_id, after_seq=0, limit=limit)]
