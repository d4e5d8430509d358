"""Run statuses and the transitions between them.

`scheduled` -> `inProgress` -> `success` | `failed` | `cancelled`; a scheduled run may also be
cancelled before it starts. Retries of a transient error stay inside `inProgress`. The
transitions are written by one module only, `store/run_transitions.py`, one rule each.
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
# Attempts of one run (its first execution, and retries after transient errors or crashes).
MAX_ATTEMPTS = 3


def can_retrigger(status: str, output_records: int) -> bool:
    """Failed runs, and successful runs that ingested nothing, may be re-triggered."""
    return status == FAILED or (status == SUCCESS and output_records == 0)
