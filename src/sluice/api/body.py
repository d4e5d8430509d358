"""Reading request bodies: content type, JSON syntax and shape, with coded errors."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from sluice.domain.errors import bad_request


class ContentTypeError(Exception):
    """The reference answers a wrong Content-Type with its own small body (section 0)."""


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise bad_request(1405, "The request body is empty.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "application/json-patch+json"):
        raise ContentTypeError
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(1001, f"The request body is not valid JSON: {exc}.") from None


async def json_body(request: Request) -> Any:
    return await read_json(request)


JsonBody = Annotated[Any, Depends(json_body)]
