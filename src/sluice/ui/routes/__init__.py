"""The dashboard's routers, mounted under `/ui` by `sluice.ui.install_dashboard`."""

from fastapi import APIRouter

from sluice.ui.routes import auth, backfills, catalog, flows, live, runs, workers

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    flows.router,
    runs.router,
    backfills.router,
    catalog.router,
    live.router,
    workers.router,
)
