"""Telling a client which body fields a create ignored: a response header and a debug log."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import quote

from fastapi import Request, Response

log = logging.getLogger("sluice.api")
ResponseT = TypeVar("ResponseT", bound=Response)

IGNORED_FIELDS_HEADER = "x-sluice-ignored-fields"
# A header stays small whatever a client posts; the log line has the same cut.
_MAX_HEADER_CHARS = 2000


def ignored_header_value(fields: Sequence[str]) -> str:
    """`a, b.c, d[0].e`: each path percent-encoded (a JSON key may hold anything, a header
    value may not), cut with `...` past the size limit."""
    parts: list[str] = []
    size = 0
    for field in sorted(set(fields)):
        part = quote(field, safe="[]._-@:$")
        size += len(part) + 2
        if size > _MAX_HEADER_CHARS:
            parts.append("...")
            break
        parts.append(part)
    return ", ".join(parts)


def report_ignored(request: Request, response: ResponseT, fields: Sequence[str]) -> ResponseT:
    if fields:
        value = ignored_header_value(fields)
        response.headers[IGNORED_FIELDS_HEADER] = value
        log.debug("%s %s ignored body field(s): %s", request.method, request.url.path, value)
    return response
