"""`GET /metrics` in the Prometheus text format, and the middleware that times requests."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from sluice.observability.http_metrics import RequestMetricsMiddleware, request_histogram
from sluice.observability.store_metrics import StoreCollector

METRICS_PATH = "/metrics"


def install_metrics(
    app: FastAPI, sessions: sessionmaker[Session], token: str | None = None
) -> CollectorRegistry:
    """Add the `/metrics` route and the request timing middleware.

    Without a token the route needs no credentials and its series name no tenant (no flow,
    org or sandbox); with one, it needs `Authorization: Bearer <token>` and adds the per-flow
    series. Each app gets its own registry (not the process-wide default), so several apps
    in one process, as in the tests, do not collide.
    """
    registry = CollectorRegistry()
    registry.register(StoreCollector(sessions, per_flow=token is not None))
    histogram = request_histogram(registry)
    expected = f"Bearer {token}".encode() if token is not None else None

    def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode("latin-1", "replace")
            if not hmac.compare_digest(given, expected):
                return Response(
                    "The metrics token is missing or wrong.\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        # A plain (sync) route: the database queries run in the thread pool.
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        METRICS_PATH, metrics, methods=["GET"], include_in_schema=False, name="metrics"
    )
    app.add_middleware(RequestMetricsMiddleware, histogram=histogram)
    return registry
