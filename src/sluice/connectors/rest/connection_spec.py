"""The generic REST API connection spec: its auth, params, pagination and window schemas.

No driver, no Arrow: the registry lists it without importing the connector (rest/spec.py).
"""

from __future__ import annotations

from typing import Any

from sluice.connectors.contract import AuthSpec, ConnectionSpec
from sluice.connectors.exploring import MAX_LISTED_OBJECTS
from sluice.connectors.spec_schemas import auth_spec

PAGINATION_TYPES: tuple[str, ...] = ("none", "pageNumber", "offset", "cursor", "linkHeader")
WINDOW_FORMATS: tuple[str, ...] = ("epochSeconds", "epochMillis", "iso8601")

# An endpoint is a path under the base URL: no scheme, no `//host`, no `..` segment (plain or
# percent-encoded), no backslash, no query or fragment (fixed params go in `queryParams`).
ENDPOINT_PATTERN = (
    r"^(?![A-Za-z][A-Za-z0-9+.-]*://)(?!//)(?!(.*/)?\.\.(/|$))(?!.*%2[eEfF])[^?#\\\s]*$"
)


_JSON_PATH = r"^\$"
_COMMON_AUTH_PROPERTIES: dict[str, Any] = {
    "baseUrl": {
        "type": "string",
        "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://",
        "description": "http(s) URL every endpoint is a path under, e.g. https://api.example.com/v2"
        " (no user, password or query).",
    },
    "testEndpoint": {
        "type": "string",
        "pattern": ENDPOINT_PATTERN,
        "description": "Path the connection test GETs instead of the base URL.",
    },
    "endpoints": {
        "type": "array",
        "maxItems": MAX_LISTED_OBJECTS,
        "items": {"type": "string", "pattern": ENDPOINT_PATTERN},
        "description": "Endpoint paths that exploring the connection lists.",
    },
}


def _auth_spec(name: str, kind: str, extra: dict[str, Any], required: list[str]) -> AuthSpec:
    return auth_spec(name, kind, {**_COMMON_AUTH_PROPERTIES, **extra}, ["baseUrl", *required])


_HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"
API_KEY_AUTH = _auth_spec(
    "API Key Authentication",
    "APIKey",
    {
        "headerName": {"type": "string", "pattern": _HEADER_NAME, "default": "X-API-Key"},
        "apiKey": {"type": "string", "format": "password", "minLength": 1},
    },
    ["apiKey"],
)
BEARER_AUTH = _auth_spec(
    "Bearer Token Authentication",
    "Bearer",
    {"token": {"type": "string", "format": "password", "minLength": 1}},
    ["token"],
)
BASIC_AUTH = _auth_spec(
    "Basic Authentication",
    "Basic",
    {
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "format": "password"},
    },
    ["username"],
)
NO_AUTH = _auth_spec("No Authentication", "None", {}, [])

_NAME = {"type": "string", "minLength": 1}


def _when(kind: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"type": {"const": kind}}}, "then": then}


# A size parameter without a size to send is a mistake, not a default.
_SIZE_NEEDS_PAGE_SIZE = {"if": {"required": ["sizeParam"]}, "then": {"required": ["pageSize"]}}

PAGINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": list(PAGINATION_TYPES), "default": "none"},
        "pageParam": {**_NAME, "default": "page"},
        "sizeParam": _NAME,
        "pageSize": {"type": "integer", "minimum": 1, "maximum": 100_000},
        "startPage": {"type": "integer", "minimum": 0, "default": 1},
        "offsetParam": {**_NAME, "default": "offset"},
        "cursorParam": {**_NAME, "default": "cursor"},
        "cursorPath": {"type": "string", "pattern": _JSON_PATH},
        "maxPages": {"type": "integer", "minimum": 1},
    },
    "required": ["type"],
    "additionalProperties": False,
    "allOf": [
        _SIZE_NEEDS_PAGE_SIZE,
        _when("cursor", {"required": ["cursorPath"]}),
    ],
}

WINDOW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "startParam": _NAME,
        "endParam": _NAME,
        "format": {"type": "string", "enum": list(WINDOW_FORMATS), "default": "epochSeconds"},
    },
    "required": ["startParam"],
    "additionalProperties": False,
}

REST_PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "endpoint": {
            "type": "string",
            "pattern": ENDPOINT_PATTERN,
            "description": "Path under the connection's baseUrl, e.g. v1/orders (no scheme or "
            "host, no '..', no query: use queryParams).",
        },
        "tableName": {
            "type": "string",
            "pattern": ENDPOINT_PATTERN,
            "description": "The endpoint's name; the endpoint itself when `endpoint` is absent.",
        },
        "recordsPath": {
            "type": "string",
            "pattern": _JSON_PATH,
            "default": "$",
            "description": "JSONPath of the records in a response: $ (the body is a list), "
            "$.items, $.data[*].",
        },
        "queryParams": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "window": WINDOW_SCHEMA,
        "pagination": PAGINATION_SCHEMA,
    },
    "additionalProperties": False,
    # `endpoint`, or a `tableName` that names it (the table-source shape).
    "if": {"not": {"required": ["tableName"]}},
    "then": {"required": ["endpoint"]},
}


SPEC = ConnectionSpec(
    id="d7f819ca-df9f-4b5f-be66-74c44667cb69",
    name="Generic REST API",
    description="JSON endpoints of an HTTP API, paged and windowed by query parameters.",
    category="protocols",
    source_kind="table",
    auth_specs=(API_KEY_AUTH, BEARER_AUTH, BASIC_AUTH, NO_AUTH),
    params_schema=REST_PARAMS_SCHEMA,
)
