"""`GET /metrics` in the Prometheus text format, and the middleware that times requests."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from sluice.observability.http_metrics import RequestMetricsMiddleware, request_histogram
from sluice.observability.store_metrics import StoreCollector

METRICS_PATH = "/metrics"


def install_metrics(app: FastAPI, sessions: sessionmaker[Session]) -> CollectorRegistry:
    """Add the unauthenticated `/metrics` route and the request timing middleware.

    Each app gets its own registry (not the process-wide default), so several apps in one
    process, as in the tests, do not collide.
    """
    registry = CollectorRegistry()
    registry.register(StoreCollector(sessions))
    histogram = request_histogram(registry)

    def metrics() -> Response:
        # A plain (sync) route: the database queries run in the thread pool.
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        METRICS_PATH, metrics, methods=["GET"], include_in_schema=False, name="metrics"
    )
    app.add_middleware(RequestMetricsMiddleware, histogram=histogram)
    return registry
