"""Run statuses and the transitions between them.

`scheduled` -> `inProgress` -> `success` | `failed` | `cancelled`; a scheduled run may also be
cancelled before it starts. Retries of a transient error stay inside `inProgress`.
"""

from __future__ import annotations

from typing import Literal

RunStatus = Literal["scheduled", "inProgress", "success", "failed", "cancelled"]
SCHEDULED: RunStatus = "scheduled"
IN_PROGRESS: RunStatus = "inProgress"
SUCCESS: RunStatus = "success"
FAILED: RunStatus = "failed"
CANCELLED: RunStatus = "cancelled"
TERMINAL: frozenset[str] = frozenset({SUCCESS, FAILED, CANCELLED})

_ALLOWED: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({IN_PROGRESS, CANCELLED}),
    IN_PROGRESS: frozenset({SUCCESS, FAILED, CANCELLED}),
}


def can_transition(current: str, target: str) -> bool:
    return target in _ALLOWED.get(current, frozenset())


def can_retrigger(status: str, output_records: int) -> bool:
    """Failed runs, and successful runs that ingested nothing, may be re-triggered."""
    return status == FAILED or (status == SUCCESS and output_records == 0)
