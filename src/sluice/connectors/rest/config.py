"""What a REST source is: its base URL and credentials, and how one of its endpoints is paged,
windowed and turned into records. Parsed once from the connection's params, checked here
again even though the JSON Schema already checked them (a preview is not validated)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import jsonpath

from sluice.connectors.errors import SourceReadError, TerminalReadError
from sluice.connectors.rest.connection_spec import (
    ENDPOINT_PATTERN,
    PAGINATION_TYPES,
    WINDOW_FORMATS,
)

PaginationType = Literal["none", "pageNumber", "offset", "cursor", "linkHeader"]
WindowFormat = Literal["epochSeconds", "epochMillis", "iso8601"]

_ENDPOINT = re.compile(ENDPOINT_PATTERN)


class RestConfigError(ValueError):
    """The connection's params cannot make a request; the message is safe to show."""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class RestAuth:
    """The base URL and how every request authenticates. Holds secrets: never log it."""

    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    basic: tuple[str, str] | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RestAuth:
        base_url = checked_base_url(_text(params.get("baseUrl")))
        if "apiKey" in params:
            header = _text(params.get("headerName")) or "X-API-Key"
            return cls(base_url, {header: _text(params["apiKey"])})
        if "token" in params:
            return cls(base_url, {"Authorization": f"Bearer {_text(params['token'])}"})
        if "username" in params:
            return cls(base_url, basic=(_text(params["username"]), _text(params.get("password"))))
        return cls(base_url)

    @property
    def httpx_auth(self) -> httpx.Auth | None:
        return httpx.BasicAuth(*self.basic) if self.basic is not None else None


def checked_base_url(url: str) -> str:
    """The base URL without a trailing slash; RestConfigError unless it is a plain http(s) URL.

    Credentials in the URL would be shown on every read of the connection; a query or
    fragment would be lost when endpoints are joined to it.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise RestConfigError("baseUrl is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise RestConfigError("baseUrl must be an absolute http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise RestConfigError(
            "baseUrl must not carry a user or password; use Basic Authentication instead."
        )
    if parts.query or parts.fragment:
        raise RestConfigError(
            "baseUrl must not have a query or fragment; put fixed parameters in the source's "
            "queryParams."
        )
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))


def endpoint_url(base_url: str, endpoint: str) -> str:
    """`endpoint` appended to the base URL; RestConfigError if it would leave the base URL
    (another host, or above its path)."""
    if not _ENDPOINT.match(endpoint) or ".." in unquote(endpoint).split("/"):
        raise RestConfigError(
            f"The endpoint {endpoint!r} must be a path under the base URL: no scheme or host, "
            "no '..', no query (use queryParams)."
        )
    path = endpoint.strip("/")
    url = f"{base_url}/{path}" if path else base_url
    if not same_origin(url, base_url):
        raise RestConfigError(f"The endpoint {endpoint!r} leaves the base URL's host.")
    return url


def same_origin(url: str, base_url: str) -> bool:
    """Same scheme, host and port: where the credentials may be sent."""
    first, second = httpx.URL(url), httpx.URL(base_url)
    return (first.scheme, first.host, first.port) == (second.scheme, second.host, second.port)


@dataclass(frozen=True)
class WindowParams:
    """How a run's window is sent: the query parameters and the format of their values."""

    start_param: str
    end_param: str | None
    format: WindowFormat = "epochSeconds"


@dataclass(frozen=True)
class Pagination:
    type: PaginationType = "none"
    page_param: str = "page"
    size_param: str | None = None
    page_size: int | None = None
    start_page: int = 1
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    cursor_path: str | None = None
    max_pages: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> Pagination:
        if not params:
            return cls()
        kind = _text(params.get("type") or "none")
        if kind not in PAGINATION_TYPES:
            raise RestConfigError(f"pagination.type must be one of {', '.join(PAGINATION_TYPES)}.")
        if kind == "cursor" and not params.get("cursorPath"):
            raise RestConfigError("Cursor pagination needs pagination.cursorPath.")
        return cls(
            type=cast(PaginationType, kind),
            page_param=_text(params.get("pageParam")) or "page",
            size_param=_text(params.get("sizeParam")) or None,
            page_size=_positive(params.get("pageSize"), "pageSize"),
            start_page=int(params.get("startPage", 1)),
            offset_param=_text(params.get("offsetParam")) or "offset",
            cursor_param=_text(params.get("cursorParam")) or "cursor",
            cursor_path=_text(params.get("cursorPath")) or None,
            max_pages=_positive(params.get("maxPages"), "maxPages"),
        )

    def size_query(self) -> dict[str, str]:
        if self.size_param and self.page_size:
            return {self.size_param: str(self.page_size)}
        return {}


def _positive(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RestConfigError(f"pagination.{name} must be a positive integer.")
    return value


def compiled_path(path: str, what: str) -> jsonpath.JSONPath | jsonpath.CompoundJSONPath:
    try:
        return jsonpath.compile(path)
    except jsonpath.JSONPathError as error:
        detail = str(error).splitlines()[0]
        raise RestConfigError(f"{what} {path!r} is not valid JSONPath: {detail}") from None


@dataclass(frozen=True)
class RestSource:
    """One endpoint of a REST connection, as a source connection (or a preview) names it."""

    endpoint: str
    records_path: str = "$"
    query_params: Mapping[str, str] = field(default_factory=dict)
    window: WindowParams | None = None
    pagination: Pagination = field(default_factory=Pagination)

    @classmethod
    def from_source(cls, source: Mapping[str, Any]) -> RestSource:
        params = source.get("params") or {}
        endpoint = params.get("endpoint")
        if endpoint is None:  # a preview names the explored endpoint as `tableName`
            endpoint = params.get("tableName")
        if endpoint is None:
            raise RestConfigError("The source names no endpoint (params.endpoint).")
        window = params.get("window")
        window_params = None
        if window:
            fmt = _text(window.get("format") or "epochSeconds")
            if fmt not in WINDOW_FORMATS:
                raise RestConfigError(f"window.format must be one of {', '.join(WINDOW_FORMATS)}.")
            if not window.get("startParam"):
                raise RestConfigError("window.startParam names no query parameter.")
            window_params = WindowParams(
                _text(window["startParam"]),
                _text(window.get("endParam")) or None,
                cast(WindowFormat, fmt),
            )
        return cls(
            endpoint=_text(endpoint),
            records_path=_text(params.get("recordsPath")) or "$",
            query_params={
                str(k): _query_value(v) for k, v in (params.get("queryParams") or {}).items()
            },
            window=window_params,
            pagination=Pagination.from_params(params.get("pagination")),
        )


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _text(value)


def config_error(error: RestConfigError) -> SourceReadError:
    return TerminalReadError(str(error))
