"""A real REST API for the tests: stdlib `ThreadingHTTPServer` on 127.0.0.1, in a thread.

It serves a deterministic record set (`make_records`) under `/{auth}/{route}`:

- `auth` is `open` (no check), `key` (header `X-API-Key`), `bearer` or `basic`; a request
  without the right credentials gets 401, `/open/forbidden` gets 403.
- routes, one per paging style: `plain` (the body is the list), `pages` (`page`,
  `per_page` -> `{"data": [...], "page": n}`), `offset` (`offset`, `limit` ->
  `{"items": [...], "total": n}`), `cursor` (`cursor`, `limit` ->
  `{"results": [...], "meta": {"next": ...}}`), `linked` (`page`, `per_page`, list body and
  a `Link: rel="next"` header), `same` (ignores paging: always the first page), and
  faulty ones: `flaky429` (429 with `Retry-After: 1` once), `flaky503` (503 twice),
  `always503`, `html`, `scalar`, `redirect-here` (302 to `plain`), `redirect-away` (302 to
  another host), `link-away` (a next link to another host).
- every route filters its records by window when `updated_since` / `updated_before` are given
  (epoch seconds, epoch milliseconds or ISO 8601), on the records' `updated_at`.

Every request is logged (`requests`) so tests can see what was asked, page by page.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from support.servers import serving

HOST = "127.0.0.1"
RECORD_COUNT = 2500
BASE = datetime(2024, 5, 1, tzinfo=UTC)
BASE_EPOCH = int(BASE.timestamp())
STEP_SECONDS = 60
# Recognizable, so a leak into any message is caught; URL-special characters on purpose.
API_KEY = "Rest-Key:S3cret/Value@1"
TOKEN = "Rest-Bearer-T0ken/Secret+2"
USERNAME = "rest-user"
PASSWORD = "Rest-Pa55:w@rd/Secret"
TIERS = ("gold", "silver", "bronze")


def make_records(count: int = RECORD_COUNT) -> list[dict[str, Any]]:
    """Record i (1-based) is updated at BASE + i minutes, in ISO 8601 with a `Z`."""
    return [
        {
            "id": i,
            "updated_at": (BASE + timedelta(seconds=i * STEP_SECONDS)).isoformat()
            .replace("+00:00", "Z"),
            "customer": {"name": f"Customer {i % 50}", "tier": TIERS[i % 3]},
            "amount": i * 1.25 + 0.01,
            "tags": [f"t{i % 5}"] if i % 4 else [],
        }
        for i in range(1, count + 1)
    ]


def updated_epoch(record_id: int) -> int:
    return BASE_EPOCH + record_id * STEP_SECONDS


@dataclass
class Logged:
    route: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class RestServer:
    url: str  # http://127.0.0.1:<port>
    port: int
    records: list[dict[str, Any]]
    requests: list[Logged] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _hits: dict[str, int] = field(default_factory=dict)

    def base(self, auth: str = "open") -> str:
        return f"{self.url}/{auth}"

    def calls(self, route: str) -> list[Logged]:
        with self.lock:
            return [r for r in self.requests if r.route == route]

    def hit(self, route: str, logged: Logged) -> int:
        """Log the request; how many times this route was asked, this one included."""
        with self.lock:
            self.requests.append(logged)
            self._hits[route] = self._hits.get(route, 0) + 1
            return self._hits[route]


def _instant(text: str) -> float:
    if text.lstrip("-").isdigit():
        number = int(text)
        return number / 1000 if abs(number) >= 100_000_000_000 else float(number)
    return datetime.fromisoformat(text).timestamp()


def _windowed(records: Sequence[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    since, before = query.get("updated_since"), query.get("updated_before")
    if since is None and before is None:
        return list(records)
    kept = []
    for record in records:
        value = record.get("updated_at")
        if not isinstance(value, str):
            continue
        instant = datetime.fromisoformat(value).timestamp()
        if since is not None and instant < _instant(since):
            continue
        if before is not None and instant >= _instant(before):
            continue
        kept.append(record)
    return kept


def _int(query: dict[str, str], name: str, default: int) -> int:
    return int(query.get(name, default))


def _authorized(auth: str, headers: Any) -> bool:
    if auth == "open":
        return True
    if auth == "key":
        return bool(headers.get("X-API-Key") == API_KEY)
    if auth == "bearer":
        return bool(headers.get("Authorization") == f"Bearer {TOKEN}")
    if auth == "basic":
        expected = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        return bool(headers.get("Authorization") == f"Basic {expected}")
    return False


def _handler(server: RestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            segments = parts.path.strip("/").split("/", 1)
            auth, route = [*segments, ""][:2]
            count = server.hit(route, Logged(route, query, dict(self.headers.items())))
            if auth not in ("open", "key", "bearer", "basic"):
                self._json(404, {"error": "no such API"})
            elif not _authorized(auth, self.headers):
                self._json(401, {"error": "unauthorized"})
            else:
                self._route(auth, route, query, count)

        def _route(self, auth: str, route: str, query: dict[str, str], count: int) -> None:
            records = _windowed(server.records, query)
            if route in ("", "plain"):
                self._json(200, records)
            elif route == "pages":
                page, size = _int(query, "page", 1), _int(query, "per_page", 100)
                self._json(200, {"data": records[(page - 1) * size: page * size], "page": page})
            elif route == "offset":
                offset, size = _int(query, "offset", 0), _int(query, "limit", 100)
                self._json(200, {"items": records[offset: offset + size], "total": len(records)})
            elif route == "cursor":
                start, size = _int(query, "cursor", 0), _int(query, "limit", 100)
                following = start + size if start + size < len(records) else None
                self._json(200, {"results": records[start: start + size],
                                 "meta": {"next": None if following is None else str(following)}})
            elif route in ("linked", "link-away"):
                self._linked(auth, route, query, records)
            elif route == "same":
                self._json(200, {"data": records[:100]})
            elif route == "flaky429" and count == 1:
                self._json(429, {"error": "slow down"}, {"Retry-After": "1"})
            elif route == "flaky503" and count <= 2:
                self._json(503, {"error": "try later"})
            elif route in ("flaky429", "flaky503"):
                self._json(200, records)
            elif route == "always503":
                self._json(503, {"error": "down"})
            elif route == "forbidden":
                self._json(403, {"error": "forbidden"})
            elif route == "html":
                self._send(200, b"<html><body>Welcome!</body></html>", "text/html")
            elif route == "scalar":
                self._json(200, {"data": 5})
            elif route == "redirect-here":
                self._send(302, b"", "text/plain", {"Location": f"/{auth}/plain"})
            elif route == "redirect-away":
                away = f"http://127.0.0.2:{server.port}/{auth}/plain"
                self._send(302, b"", "text/plain", {"Location": away})
            else:
                self._json(404, {"error": f"no route {route}"})

        def _linked(self, auth: str, route: str, query: dict[str, str],
                    records: list[dict[str, Any]]) -> None:
            page, size = _int(query, "page", 1), _int(query, "per_page", 100)
            headers = {}
            if page * size < len(records):
                host = "127.0.0.2" if route == "link-away" else HOST
                following = urlencode({**query, "page": str(page + 1)})
                headers["Link"] = (f'<http://{host}:{server.port}/{auth}/{route}?{following}>;'
                                   ' rel="next"')
            self._json(200, records[(page - 1) * size: page * size], headers)

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body).encode(), "application/json", headers)

        def _send(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_rest_server(records: list[dict[str, Any]] | None = None) -> Iterator[RestServer]:
    """A REST server on a free loopback port serving `records` (default: make_records())."""
    state = RestServer(url="", port=0, records=make_records() if records is None else records)
    httpd = ThreadingHTTPServer((HOST, 0), _handler(state))
    state.port = int(httpd.server_address[1])
    state.url = f"http://{HOST}:{state.port}"
    with serving(httpd, "rest-test-server"):
        yield state
