"""The backfills list, a backfill's page (progress, chunks with their runs) and its actions:
pause, resume, cancel, retry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from sluice.api.app_context import AppContext
from sluice.api.deps import ContextDep, SessionDep
from sluice.domain.backfill_requests import TRANSITIONS
from sluice.domain.errors import SluiceError
from sluice.services.backfills import act, backfills
from sluice.services.dashboard_backfills import backfill_detail, recent_backfills
from sluice.ui.deps import FormDep, PageNotFoundError, Viewer, ViewerDep
from sluice.ui.routes.common import Problem, found, notice_text, problem_of, redirect
from sluice.ui.templating import render_fragment, render_page

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


def actions_for(status: str) -> list[str]:
    """The actions a backfill of this status offers, in the order the page shows them."""
    return [name for name, (sources, _target) in TRANSITIONS.items() if status in sources]


def backfill_context(context: AppContext, viewer: Viewer, backfill_id: str) -> dict[str, Any]:
    with context.sessions.begin() as session:
        backfill = backfill_detail(session, viewer.tenant, backfill_id)
    if backfill is None:
        raise PageNotFoundError(backfill_id)
    return {"backfill": backfill, "actions": actions_for(backfill["status"])}


@router.get("/ui/backfills")
def backfills_page(
    request: Request, viewer: ViewerDep, session: SessionDep, notice: str | None = None
) -> Response:
    items = recent_backfills(session, viewer.tenant)
    return render_page(
        request, "backfills.html", viewer, backfills=items, notice=notice_text(notice)
    )


def _backfill_page(
    request: Request,
    context: AppContext,
    viewer: Viewer,
    backfill_id: str,
    *,
    notice: str | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "backfill.html",
        viewer,
        status_code=status_code,
        notice=notice_text(notice),
        problem=problem,
        **backfill_context(context, viewer, backfill_id),
    )


@router.get("/ui/backfills/{backfill_id}")
def backfill_page(
    request: Request,
    backfill_id: str,
    context: ContextDep,
    viewer: ViewerDep,
    notice: str | None = None,
) -> Response:
    return _backfill_page(request, context, viewer, backfill_id, notice=notice)


@router.post("/ui/backfills/{backfill_id}/{action}")
def backfill_action(
    request: Request,
    backfill_id: str,
    action: str,
    context: ContextDep,
    viewer: ViewerDep,
    _form: FormDep,
) -> Response:
    if action not in TRANSITIONS:
        raise PageNotFoundError(action)
    try:
        with context.sessions.begin() as session:
            found(backfills.find(session, viewer.tenant, backfill_id), backfill_id)
            _row, started = act(session, viewer.tenant, backfill_id, action)
    except SluiceError as error:
        return _backfill_page(
            request,
            context,
            viewer,
            backfill_id,
            problem=problem_of(error),
            status_code=error.status,
        )
    for run_id in started:
        context.notify_run_ready(run_id)
    return redirect(f"/ui/backfills/{backfill_id}", notice=f"backfill-{action}")


@router.get("/ui/live/backfills/{backfill_id}")
def live_backfill(backfill_id: str, context: ContextDep, viewer: ViewerDep) -> JSONResponse:
    shown = backfill_context(context, viewer, backfill_id)
    html = render_fragment("_backfill_live.html", viewer=viewer, **shown)
    return JSONResponse(
        {"id": backfill_id, "status": shown["backfill"]["status"], "html": html},
        headers=NO_STORE,
    )
