"""Small helpers shared by the resource routers."""

from __future__ import annotations

from typing import Any

from fastapi import Response, status
from fastapi.responses import JSONResponse

from sluice.services.resource_types import VersionedResource

FLOW_SERVICE = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"


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
