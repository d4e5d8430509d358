"""Reading request bodies: content type, JSON syntax and shape, with coded errors."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from sluice.domain.errors import bad_request


class ContentTypeError(Exception):
    """The reference answers a wrong Content-Type with its own small body (section 0)."""


JSON_TYPES = frozenset({"application/json", "application/json-patch+json"})
# What curl sends without `-H 'Content-Type: ...'` (or nothing at all): the published
# tutorials do that, so such a body is read as JSON when it parses as JSON.
UNDECLARED_TYPES = frozenset({"", "application/x-www-form-urlencoded"})


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise bad_request(1405, "The request body is empty.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES and content_type not in UNDECLARED_TYPES:
        raise ContentTypeError
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        if content_type in UNDECLARED_TYPES:
            raise ContentTypeError from None  # a form or text body, not JSON sent bare
        raise bad_request(1001, f"The request body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise bad_request(1001, f"The request body nests deeper than {MAX_DEPTH} levels.") from None
    _check_storable(document, 0)
    return document


MAX_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; stored, they would break JSON filters and PostgreSQL.
    raise ValueError(f"{name} is not a JSON value")


def _check_storable(value: Any, depth: int) -> None:
    """Refuse what either metadata database cannot store, the same way on both."""
    if depth > MAX_DEPTH:
        raise bad_request(1001, f"The request body nests deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_storable(item, depth + 1)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise bad_request(1000, "Text values may not contain the NUL character (\\u0000).")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(1000, "Text values must be valid Unicode (no lone surrogates).") from None


async def json_body(request: Request) -> Any:
    return await read_json(request)


JsonBody = Annotated[Any, Depends(json_body)]
