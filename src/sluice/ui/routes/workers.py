"""The workers page: the deployment's run slots, refreshed live."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sluice.api.deps import SessionDep
from sluice.services.dashboard_workers import worker_views
from sluice.ui.deps import ViewerDep
from sluice.ui.templating import render_fragment, render_page

router = APIRouter()


@router.get("/ui/workers")
def workers_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    shown = worker_views(session, viewer.tenant)
    return render_page(request, "workers.html", viewer, workers=shown)


@router.get("/ui/live/workers")
def live_workers(viewer: ViewerDep, session: SessionDep) -> JSONResponse:
    shown = worker_views(session, viewer.tenant)
    html = render_fragment("_workers_table.html", viewer=viewer, workers=shown)
    return JSONResponse(
        {"workers": [{"id": w.id, "busy": w.busy} for w in shown], "html": html},
        headers={"Cache-Control": "no-store"},
    )
