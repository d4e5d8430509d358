"""Whether a base, source or target connection is enabled, as its row says."""

from __future__ import annotations

from sluice.store.models import Connection, SourceConnection, TargetConnection


def state_of(row: Connection | SourceConnection | TargetConnection) -> str:
    """Base connections keep their state in a column; source and target connections in
    their document (absent means enabled, as every one was before actions existed)."""
    if isinstance(row, Connection):
        return row.state
    return str(row.doc.get("state", "enabled"))
