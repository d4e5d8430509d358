"""One router per resource; `ROUTERS` is what the app factory mounts."""

from fastapi import APIRouter

from sluice.api.routers import (
    connections,
    datasets,
    flows,
    runs,
    sandboxes,
    source_connections,
    specs,
    target_connections,
    token,
    webhooks,
)

ROUTERS: tuple[APIRouter, ...] = (
    token.router,
    specs.router,
    connections.router,
    source_connections.router,
    target_connections.router,
    datasets.router,
    flows.router,
    runs.router,
    sandboxes.router,
    webhooks.router,
)
