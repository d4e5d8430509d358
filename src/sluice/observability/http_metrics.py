"""API request latency: an ASGI middleware feeding a histogram labelled by route template.

Labels use the route's path template (`/data/foundation/flowservice/runs/{run_id}`), never
the raw path, so that ids do not create a series each; requests no route matched share one
`unmatched` label.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"


def request_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "sluice_http_request_duration_seconds",
        "API request latency, by method, route template and status code.",
        labelnames=["method", "route", "status"],
        registry=registry,
    )


def route_template(scope: Scope) -> str:
    """The matched route's path template, set in the scope by the router."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED


class RequestMetricsMiddleware:
    """Observes every HTTP request's duration, up to the end of its response."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_tracking_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_tracking_status)
        finally:
            self.histogram.labels(
                scope.get("method", ""), route_template(scope), str(status)
            ).observe(time.perf_counter() - started)
