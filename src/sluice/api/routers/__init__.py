"""One router per resource; `ROUTERS` is what the app factory mounts."""

from fastapi import APIRouter

from sluice.api.routers import (
    backfills,
    connections,
    datasets,
    explore,
    flows,
    mapping_sets,
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
    explore.router,
    source_connections.router,
    target_connections.router,
    datasets.router,
    flows.router,
    mapping_sets.router,
    runs.router,
    backfills.router,
    runs.flow_runs_router,
    sandboxes.router,
    webhooks.router,
)
