"""Finding a run's own commit in a Delta table's log, and what it added.

Version numbers come from the log file names themselves, never from `DeltaTable.history()`,
whose numbering is counted back from a separately read latest version and can shift while
other runs commit to the same table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sluice.lake.location import LakeTable

RUN_ID_KEY = "sluice.runId"


@dataclass(frozen=True)
class CommitFacts:
    version: int
    rows_added: int
    files_added: int
    bytes_added: int


def _log_entry(table: LakeTable, version: int) -> list[dict[str, Any]] | None:
    text = table.read_log_entry(version)
    if text is None:
        return None
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _facts(version: int, actions: list[dict[str, Any]]) -> CommitFacts:
    adds = [a["add"] for a in actions if "add" in a]
    info: dict[str, Any] = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
    metrics = info.get("operationMetrics") or {}
    rows = metrics.get("num_added_rows")
    if rows is None and "num_target_rows_inserted" in metrics:  # a merge
        rows = int(metrics.get("num_target_rows_inserted", 0)) + int(
            metrics.get("num_target_rows_updated", 0)
        )
    if rows is None:
        rows = sum(int(json.loads(a.get("stats") or "{}").get("numRecords", 0)) for a in adds)
    return CommitFacts(version, int(rows), len(adds), sum(int(a.get("size", 0)) for a in adds))


def _names_run(actions: list[dict[str, Any]], run_id: str) -> bool:
    return any(a.get("commitInfo", {}).get(RUN_ID_KEY) == run_id for a in actions)


def find_commit(
    table: LakeTable, run_id: str, *, newest: int, oldest: int = 0
) -> CommitFacts | None:
    """The commit of `run_id` among versions `oldest..newest`, searching newest first; None
    when no log entry there names it (it may have been cleaned up after log retention)."""
    for version in range(newest, max(oldest, 0) - 1, -1):
        actions = _log_entry(table, version)
        if actions is None:
            return None
        if _names_run(actions, run_id):
            return _facts(version, actions)
    return None
