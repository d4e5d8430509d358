"""Reconciling a run: what the source held in the window against what the run landed, and the
warnings a successful run carries (a window still open, a mismatch, a missed expectation).

Table sources: `sourceCount` (the window's rows, counted by the reader with the read's own
predicate, in its snapshot where the database allows) against `landedCount + badRows`.
File sources: the files and bytes listed for the run against those read to their end. A
mismatch keeps the run successful (a source can change under a window) but warns.
"""

from __future__ import annotations

from typing import Any

from sluice.connectors.reading import ReadProgress
from sluice.domain.windows import Window

WINDOW_STILL_OPEN = "WARNING-1001"
RECONCILIATION_MISMATCH = "WARNING-1002"
EXPECTATION_FAILED = "WARNING-1003"


def reconcile(
    progress: ReadProgress, *, is_file_source: bool, landed: int, bad_rows: int
) -> dict[str, Any] | None:
    """The run's `reconciliation` (a Sluice extension of its metrics); None when the reader
    did not count its source."""
    if is_file_source:
        listed_bytes = sum(f.size for f in progress.files)
        return {
            "filesListed": len(progress.files),
            "filesRead": progress.files_read,
            "bytesListed": listed_bytes,
            "bytesRead": progress.input_bytes,
            "matched": progress.files_read == len(progress.files)
            and progress.input_bytes == listed_bytes,
        }
    if progress.source_count is None:
        return None
    return {
        "sourceCount": progress.source_count,
        "landedCount": landed,
        "badRows": bad_rows,
        "matched": landed + bad_rows == progress.source_count,
    }


def mismatch_warning(reconciliation: dict[str, Any]) -> dict[str, str]:
    if "sourceCount" in reconciliation:
        detail = (
            f"the source held {reconciliation['sourceCount']} rows in the window; the run "
            f"landed {reconciliation['landedCount']} and set aside {reconciliation['badRows']} "
            "bad rows"
        )
    else:
        detail = (
            f"{reconciliation['filesListed']} files ({reconciliation['bytesListed']} bytes) "
            f"were listed; {reconciliation['filesRead']} ({reconciliation['bytesRead']} bytes) "
            "were read"
        )
    return {
        "code": RECONCILIATION_MISMATCH,
        "message": f"Reconciliation mismatch: {detail}. The source may have changed during "
        "the run; re-run the window to land it again.",
    }


def open_window_warning(window: Window | None, now_seconds: int) -> dict[str, str] | None:
    """A window that ends after the run read it: rows may still arrive in it."""
    if window is None or window.end <= now_seconds:
        return None
    return {
        "code": WINDOW_STILL_OPEN,
        "message": f"The window ends at {window.end}, after the run read it ({now_seconds}): "
        "rows written to the source later in the window are not in this run.",
    }


def min_rows_warning(min_rows: int | None, landed: int) -> dict[str, str] | None:
    if min_rows is None or landed >= min_rows:
        return None
    return {
        "code": EXPECTATION_FAILED,
        "message": f"Expectation minRowsPerRun failed: the run landed {landed} rows, fewer "
        f"than the flow's minimum of {min_rows}.",
    }
