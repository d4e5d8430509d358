"""The dashboard's routers, mounted under `/ui` by `sluice.ui.install_dashboard`."""

from fastapi import APIRouter

from sluice.ui.routes import (
    auth,
    backfills,
    catalog,
    connections,
    explore,
    flow_edit,
    flows,
    live,
    runs,
    wizard,
    workers,
)

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    # Before flows: `/ui/flows/new` is not a flow id.
    wizard.router,
    flows.router,
    flow_edit.router,
    runs.router,
    backfills.router,
    catalog.router,
    connections.router,
    explore.router,
    live.router,
    workers.router,
)
