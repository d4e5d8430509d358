"""Small helpers shared by the resource routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response, status
from starlette.background import BackgroundTask

from sluice.api.app_context import AppContext
from sluice.api.json_response import JSONResponse
from sluice.services.resource_types import VersionedResource

FLOW_SERVICE = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
# `?limit=` of the reads that return rows (a dataset's preview and history, a run's bad
# rows, a webhook's deliveries); each route gives its own default.
RowsLimit = Annotated[int, Query(ge=1, le=1000)]


def created(
    row: VersionedResource, location: str, warnings: list[str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"id": row.id, "etag": row.etag}
    if warnings:
        body["warnings"] = warnings
    return JSONResponse(
        body,
        status_code=status.HTTP_201_CREATED,
        headers={"Location": location, "ETag": row.etag},
    )


def updated(row: VersionedResource) -> JSONResponse:
    return JSONResponse({"id": row.id, "etag": row.etag}, headers={"ETag": row.etag})


def one(item: dict[str, Any], etag: str) -> JSONResponse:
    return JSONResponse({"items": [item]}, headers={"ETag": etag})


def no_content() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def notify_after_commit(context: AppContext, *run_ids: str) -> BackgroundTask | None:
    """Wake the workers (or send the runs' Celery tasks) once the response is sent: the
    request's transaction has committed by then, so the runs are visible to whoever claims
    them, and a slow broker never delays the answer. None when there is nobody to tell (an
    API-only process without a broker): a background task costs a thread hop per request."""
    if not context.notifies_run_ready:
        return None

    def notify() -> None:
        for run_id in run_ids:
            context.notify_run_ready(run_id)

    return BackgroundTask(notify)
