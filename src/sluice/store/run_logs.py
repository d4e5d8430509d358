"""A run's structured log in the metadata database: appending entries and reading a page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from sluice.store.models import RunLogEntry


@dataclass(frozen=True)
class LogLine:
    """An entry before it is numbered and stored."""

    at: int  # epoch ms
    level: str  # info | warning | error
    stage: str  # claim | plan | reflect | schema | read | file | retry | commit | end
    message: str
    counters: dict[str, Any] | None = None


def last_seq(session: Session, run_id: str) -> int:
    """How many entries the run has (entries are numbered 1..n without a gap)."""
    return int(
        session.scalar(
            select(func.coalesce(func.max(RunLogEntry.seq), 0)).where(RunLogEntry.run_id == run_id)
        )
        or 0
    )


def append(
    session: Session, run_id: str, attempt: int, first_seq: int, lines: Sequence[LogLine]
) -> None:
    """Store `lines` as entries first_seq, first_seq + 1, ... in one statement."""
    if not lines:
        return
    session.execute(
        insert(RunLogEntry),
        [
            {
                "run_id": run_id,
                "seq": first_seq + i,
                "at": line.at,
                "attempt": attempt,
                "level": line.level,
                "stage": line.stage,
                "message": line.message,
                "counters": line.counters,
            }
            for i, line in enumerate(lines)
        ],
    )


def page(session: Session, run_id: str, *, after_seq: int, limit: int) -> list[RunLogEntry]:
    """Entries numbered above `after_seq`, oldest first, at most `limit`."""
    return list(
        session.scalars(
            select(RunLogEntry)
            .where(RunLogEntry.run_id == run_id, RunLogEntry.seq > after_seq)
            .order_by(RunLogEntry.seq)
            .limit(limit)
        )
    )
