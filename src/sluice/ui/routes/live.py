"""The JSON endpoints the pages poll (every ~2 s) to update without a reload.

Each answers the same server-rendered (and escaped) fragment the page was built with, plus
the run statuses, so the page's script swaps the fragment in and tests can read the state.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sluice.api.deps import ContextDep, SessionDep
from sluice.services.dashboard_flows import flow_summaries
from sluice.ui.deps import ViewerDep
from sluice.ui.routes.common import RunFiltersDep
from sluice.ui.routes.flows import flow_context
from sluice.ui.routes.runs import run_context, run_log_context
from sluice.ui.templating import render_fragment

router = APIRouter(prefix="/ui/live")
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/flows")
def live_flows(viewer: ViewerDep, session: SessionDep) -> JSONResponse:
    summaries = flow_summaries(session, viewer.tenant)
    html = render_fragment("_flows_table.html", viewer=viewer, flows=summaries)
    return JSONResponse({"html": html}, headers=NO_STORE)


@router.get("/flows/{flow_id}/runs")
def live_flow_runs(
    flow_id: str,
    context: ContextDep,
    viewer: ViewerDep,
    filters: RunFiltersDep,
    run: str | None = None,
) -> JSONResponse:
    shown = flow_context(context, viewer, flow_id, filters)
    html = render_fragment("_flow_runs.html", viewer=viewer, highlight=run, **shown)
    return JSONResponse(
        {
            "runs": [{"id": r.id, "status": r.status} for r in shown["runs"]],
            "html": html,
        },
        headers=NO_STORE,
    )


@router.get("/runs/{run_id}")
def live_run(run_id: str, context: ContextDep, viewer: ViewerDep) -> JSONResponse:
    shown = run_context(context, viewer, run_id)
    run = shown["detail"].run
    html = render_fragment("_run_live.html", viewer=viewer, **shown)
    return JSONResponse(
        {"id": run.id, "status": run.status, "terminal": run.is_terminal, "html": html},
        headers=NO_STORE,
    )


@router.get("/runs/{run_id}/log")
def live_run_log(run_id: str, context: ContextDep, viewer: ViewerDep) -> JSONResponse:
    shown = run_log_context(context, viewer, run_id)
    html = render_fragment("_run_log.html", viewer=viewer, **shown)
    return JSONResponse({"entries": len(shown["log"]), "html": html}, headers=NO_STORE)
