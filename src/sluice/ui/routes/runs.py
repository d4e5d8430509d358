"""A run's detail page and its actions: cancel and re-trigger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sluice.api.app_context import AppContext
from sluice.api.deps import ContextDep
from sluice.domain.errors import SluiceError
from sluice.domain.tenancy import Tenant
from sluice.services.dashboard_datasets import dataset_names
from sluice.services.dashboard_flows import dataset_of
from sluice.services.dashboard_runs import run_detail
from sluice.services.flows import flows
from sluice.services.run_logs import latest_entries
from sluice.services.runs import cancel_run, retrigger_run, runs
from sluice.ui.deps import FormDep, Viewer, ViewerDep
from sluice.ui.routes.common import Outcome, found, redirect
from sluice.ui.templating import render_page

router = APIRouter()


def run_context(context: AppContext, viewer: Viewer, run_id: str) -> dict[str, Any]:
    """Everything the run page and its live endpoint show."""
    with context.sessions.begin() as session:
        row = found(runs.find(session, viewer.tenant, run_id), run_id)
        flow = flows.find(session, viewer.tenant, row.flow_id)
        dataset_id = dataset_of(session, viewer.tenant, flow) if flow else None
        return {
            "detail": run_detail(session, viewer.tenant, row, flow.name if flow else row.name),
            "dataset_id": dataset_id,
            "dataset_names": dataset_names(session, viewer.tenant, [dataset_id or ""]),
        }


def run_log_context(context: AppContext, viewer: Viewer, run_id: str) -> dict[str, Any]:
    """The run's log panel (polled on its own, so the rest of the page stays as it was)."""
    with context.sessions.begin() as session:
        row = found(runs.find(session, viewer.tenant, run_id), run_id)
        return {"run_id": row.id, "log": latest_entries(session, row.id)}


def _run_page(
    request: Request, context: AppContext, viewer: Viewer, run_id: str, outcome: Outcome
) -> Response:
    return render_page(
        request,
        "run.html",
        viewer,
        **outcome.page_fields(),
        **run_context(context, viewer, run_id),
        **run_log_context(context, viewer, run_id),
    )


def _run_action(
    request: Request,
    context: AppContext,
    viewer: Viewer,
    run_id: str,
    act: Callable[[Session, Tenant, str], str],
    notice: str,
) -> Response:
    """`act` on the viewer's run in one transaction, then the page of the run it answers,
    with `notice`; or the run page with the coded error the action was refused with."""
    try:
        with context.sessions.begin() as session:
            found(runs.find(session, viewer.tenant, run_id), run_id)
            shown = act(session, viewer.tenant, run_id)
    except SluiceError as error:
        return _run_page(request, context, viewer, run_id, Outcome(refused=error))
    if shown != run_id:
        # A new run, woken after the commit: a worker woken earlier would not see it yet.
        context.notify_run_ready(shown)
    return redirect(f"/ui/runs/{shown}", notice=notice)


@router.get("/ui/runs/{run_id}")
def run_page(
    request: Request,
    run_id: str,
    context: ContextDep,
    viewer: ViewerDep,
    notice: str | None = None,
) -> Response:
    return _run_page(request, context, viewer, run_id, Outcome(notice=notice))


@router.post("/ui/runs/{run_id}/cancel")
def cancel(
    request: Request, run_id: str, context: ContextDep, viewer: ViewerDep, _form: FormDep
) -> Response:
    def cancel_it(session: Session, tenant: Tenant, run_id: str) -> str:
        cancel_run(session, tenant, run_id)
        return run_id

    return _run_action(request, context, viewer, run_id, cancel_it, "run-cancelled")


@router.post("/ui/runs/{run_id}/retrigger")
def retrigger(
    request: Request, run_id: str, context: ContextDep, viewer: ViewerDep, _form: FormDep
) -> Response:
    def retrigger_it(session: Session, tenant: Tenant, run_id: str) -> str:
        return retrigger_run(session, tenant, run_id).id

    return _run_action(request, context, viewer, run_id, retrigger_it, "run-retriggered")
