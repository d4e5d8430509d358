"""The predicate of the partial unique index that allows one live re-trigger per chain.

Shared by the model, its migration and the guarded insert (`ON CONFLICT ... WHERE` must name
the index's predicate exactly). A re-trigger that failed or was cancelled leaves the index,
so the chain can be re-triggered again; one that is scheduled, in progress or succeeded
keeps its place.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

LIVE_RETRIGGER_SQL = "retry_root IS NOT NULL AND status IN ('scheduled', 'inProgress', 'success')"
LIVE_RETRIGGER: TextClause = text(LIVE_RETRIGGER_SQL)

# The same for a backfill's chunks: one live or succeeded run per (backfill, chunk).
LIVE_CHUNK_RUN_SQL = (
    "backfill_id IS NOT NULL AND status IN ('scheduled', 'inProgress', 'success')"
)
LIVE_CHUNK_RUN: TextClause = text(LIVE_CHUNK_RUN_SQL)
