"""`RunView`: the columns of a run that the runs list reads, as a plain named tuple."""

from __future__ import annotations

from typing import Any, NamedTuple


class RunView(NamedTuple):
    """What a listed run is rendered from (`services.runs.render_run`), and every column the
    runs list sorts on: read without the ORM (`store.view_page_statements`). Field
    names are the `Run` model's attribute names."""

    id: str
    name: str
    created_at: int
    updated_at: int
    created_by: str
    updated_by: str
    created_client: str
    updated_client: str
    etag: str
    org_id: str
    sandbox_id: str
    doc: dict[str, Any]
    flow_id: str
    status: str
    started_at: int | None
    completed_at: int | None
    window_start: int | None
    window_end: int | None
    backfill_id: str | None
