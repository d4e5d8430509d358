"""A run's detail page and its actions: cancel and re-trigger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sluice.api.context import AppContext
from sluice.api.deps import ContextDep
from sluice.domain.errors import SluiceError
from sluice.services.dashboard_datasets import dataset_names
from sluice.services.dashboard_flows import dataset_of
from sluice.services.dashboard_runs import run_detail
from sluice.services.flows import flows
from sluice.services.runs import cancel_run, retrigger_run, runs
from sluice.store.db import transaction
from sluice.ui.deps import FormDep, PageNotFoundError, Viewer, ViewerDep
from sluice.ui.routes.common import Problem, notice_text, problem_of, redirect
from sluice.ui.templating import render_page

router = APIRouter()


def run_context(context: AppContext, viewer: Viewer, run_id: str) -> dict[str, Any]:
    """Everything the run page and its live endpoint show."""
    with transaction(context.sessions) as session:
        row = runs.find(session, viewer.tenant, run_id)
        if row is None:
            raise PageNotFoundError(run_id)
        flow = flows.find(session, viewer.tenant, row.flow_id)
        dataset_id = dataset_of(session, viewer.tenant, flow) if flow else None
        return {
            "detail": run_detail(session, viewer.tenant, row, flow.name if flow else row.name),
            "dataset_id": dataset_id,
            "dataset_names": dataset_names(session, viewer.tenant, [dataset_id or ""]),
        }


def _run_page(
    request: Request,
    context: AppContext,
    viewer: Viewer,
    run_id: str,
    *,
    notice: str | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "run.html",
        viewer,
        status_code=status_code,
        notice=notice_text(notice),
        problem=problem,
        **run_context(context, viewer, run_id),
    )


@router.get("/ui/runs/{run_id}")
def run_page(
    request: Request,
    run_id: str,
    context: ContextDep,
    viewer: ViewerDep,
    notice: str | None = None,
) -> Response:
    return _run_page(request, context, viewer, run_id, notice=notice)


@router.post("/ui/runs/{run_id}/cancel")
def cancel(
    request: Request, run_id: str, context: ContextDep, viewer: ViewerDep, _form: FormDep
) -> Response:
    try:
        with transaction(context.sessions) as session:
            if runs.find(session, viewer.tenant, run_id) is None:
                raise PageNotFoundError(run_id)
            cancel_run(session, viewer.tenant, run_id)
    except SluiceError as error:
        return _run_page(
            request, context, viewer, run_id, problem=problem_of(error), status_code=error.status
        )
    return redirect(f"/ui/runs/{run_id}", notice="run-cancelled")


@router.post("/ui/runs/{run_id}/retrigger")
def retrigger(
    request: Request, run_id: str, context: ContextDep, viewer: ViewerDep, _form: FormDep
) -> Response:
    try:
        with transaction(context.sessions) as session:
            if runs.find(session, viewer.tenant, run_id) is None:
                raise PageNotFoundError(run_id)
            new_run_id = retrigger_run(session, viewer.tenant, run_id).id
    except SluiceError as error:
        return _run_page(
            request, context, viewer, run_id, problem=problem_of(error), status_code=error.status
        )
    context.notify_run_ready(new_run_id)
    return redirect(f"/ui/runs/{new_run_id}", notice="run-retriggered")
