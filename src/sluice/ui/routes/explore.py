"""Exploring a connection in the dashboard: listing its schemas, tables, folders and files,
previewing one table or file, and starting a flow from it. The page asks the API's explore
service exactly what `GET /connections/{id}/explore` would."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sluice.api.deps import ContextDep
from sluice.services.connections import connections
from sluice.services.explore import ExploreQuery
from sluice.ui.deps import ViewerDep
from sluice.ui.file_options import FileOptions
from sluice.ui.routes.common import explore_for_page, found
from sluice.ui.templating import render_page

router = APIRouter()
PREVIEW_ROWS = 20
# What exploring an item of each listed type means: list inside it, or preview it.
ITEM_OBJECT_TYPES = {
    "schema": "schema",
    "folder": "folder",
    "table": "table",
    "file": "file",
    "endpoint": "rest",
}
PREVIEWED = ("table", "file", "rest")


def item_link(connection_id: str, item: dict[str, Any]) -> str:
    object_type = ITEM_OBJECT_TYPES.get(str(item.get("type")), "table")
    query = urlencode({"type": object_type, "object": item.get("path", "")})
    return f"/ui/connections/{connection_id}/explore?{query}"


def parent_link(connection_id: str, object_type: str, place: str) -> str | None:
    """Where "up" goes: the folder above, the schema of a table, or the top."""
    if object_type == "root":
        return None
    base = f"/ui/connections/{connection_id}/explore"
    if object_type == "rest":  # endpoints are all listed at the top
        return base
    separator = "." if object_type == "table" and "." in place else "/"
    head, _sep, _tail = place.rstrip("/").rpartition(separator)
    if head:
        up_type = "schema" if separator == "." else "folder"
        return f"{base}?{urlencode({'type': up_type, 'object': head})}"
    return base


def flow_link(connection_id: str, object_type: str, place: str, options: FileOptions) -> str:
    query = {"connection": connection_id, "object": place, **options.query()}
    if object_type == "file":
        query["kind"] = "file"
    return f"/ui/flows/new?{urlencode(query)}"


@router.get("/ui/connections/{connection_id}/explore")
def explore_page(
    request: Request,
    connection_id: str,
    context: ContextDep,
    viewer: ViewerDep,
    kind: Annotated[str, Query(alias="type")] = "root",
    place: Annotated[str, Query(alias="object")] = "",
    file_type: str = "",
    column_delimiter: str = "",
    compression_type: str = "",
    header: str = "",
) -> Response:
    options = FileOptions(file_type, column_delimiter, compression_type, header)
    object_type = kind.strip().lower() or "root"
    query = ExploreQuery(
        object_type=object_type,
        object=place or None,
        preview=object_type in PREVIEWED,
        preview_rows=PREVIEW_ROWS,
        **options.explore_fields(),
    )
    # Sync route: the connector's blocking I/O runs in a worker thread, as the API's does.
    with context.sessions.begin() as session:
        row = found(connections.find(session, viewer.tenant, connection_id), connection_id)
        name = row.name
        explored = explore_for_page(session, context, viewer.tenant, connection_id, query)
    listing = explored.result if isinstance(explored.result, list) else None
    preview = explored.result if isinstance(explored.result, dict) else None
    return render_page(
        request,
        "explore.html",
        viewer,
        status_code=explored.status_code,
        connection_id=connection_id,
        connection_name=name,
        object_type=object_type,
        place=place,
        options=options,
        items=[{**item, "link": item_link(connection_id, item)} for item in listing or []],
        preview=preview,
        problem=explored.problem,
        up=parent_link(connection_id, object_type, place),
        flow_link=flow_link(connection_id, object_type, place, options),
        preview_rows=PREVIEW_ROWS,
    )
