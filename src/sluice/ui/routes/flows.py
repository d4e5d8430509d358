"""The flows list and a flow's runs page, with its actions: run now, enable, disable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sluice.api.app_context import AppContext
from sluice.api.deps import ContextDep, SessionDep
from sluice.domain.errors import SluiceError
from sluice.services.dashboard_connections import flow_source
from sluice.services.dashboard_datasets import dataset_names
from sluice.services.dashboard_flows import dataset_of, flow_summaries, flow_summary
from sluice.services.dashboard_runs import flow_runs
from sluice.services.flows import change_state, flows
from sluice.services.runs import create_run
from sluice.ui.charts import runs_chart
from sluice.ui.deps import FormDep, Viewer, ViewerDep, form_text
from sluice.ui.formatting import input_value, parse_input_value
from sluice.ui.routes.common import (
    Outcome,
    RunFilterForm,
    RunFiltersDep,
    found,
    notice_text,
    redirect,
)
from sluice.ui.templating import render_page

router = APIRouter()


@dataclass(frozen=True)
class RunForm:
    """The "run now" form as typed (UTC times, `YYYY-MM-DD HH:MM`)."""

    window_start: str
    window_end: str
    delta_column: str = ""
    # Empty: as soon as a worker is free; else the run waits `scheduled` until then.
    start_at: str = ""

    @classmethod
    def default(cls) -> RunForm:
        now = int(time.time()) // 60 * 60
        return cls(window_start=input_value(now - 86_400), window_end=input_value(now))

    def payload(self, flow_id: str) -> dict[str, Any]:
        """The body of `POST /runs` this form means; empty fields are left out, so the
        service names what is missing with its usual code."""
        params: dict[str, Any] = {}
        typed = {
            "windowStartTime": self.window_start,
            "windowEndTime": self.window_end,
            "startTime": self.start_at,
        }
        for key, text in typed.items():
            seconds = parse_input_value(text)
            if seconds is not None:
                params[key] = seconds
        if self.delta_column:
            params["deltaColumn"] = {"name": self.delta_column}
        return {"flowId": flow_id, "params": params}


def flow_context(
    context: AppContext, viewer: Viewer, flow_id: str, filters: RunFilterForm
) -> dict[str, Any]:
    """Everything the flow page and its live endpoint show."""
    with context.sessions.begin() as session:
        row = found(flows.find(session, viewer.tenant, flow_id), flow_id)
        runs = flow_runs(session, viewer.tenant, row.id, filters.query)
        dataset_id = dataset_of(session, viewer.tenant, row)
        return {
            "flow": flow_summary(session, viewer.tenant, row),
            "dataset_id": dataset_id,
            "dataset_names": dataset_names(session, viewer.tenant, [dataset_id or ""]),
            "source": flow_source(session, viewer.tenant, row),
            "runs": runs,
            "chart": runs_chart(runs),
            "filters": filters,
        }


@router.get("/ui/flows")
def flows_page(
    request: Request, viewer: ViewerDep, session: SessionDep, notice: str | None = None
) -> Response:
    return render_page(
        request,
        "flows.html",
        viewer,
        flows=flow_summaries(session, viewer.tenant),
        notice=notice_text(notice),
    )


def _flow_page(
    request: Request,
    context: AppContext,
    viewer: Viewer,
    flow_id: str,
    filters: RunFilterForm,
    outcome: Outcome,
    *,
    run_form: RunForm | None = None,
    highlight: str | None = None,
) -> Response:
    return render_page(
        request,
        "flow.html",
        viewer,
        **outcome.page_fields(),
        run_form=run_form or RunForm.default(),
        highlight=highlight,
        **flow_context(context, viewer, flow_id, filters),
    )


@contextmanager
def _viewers_flow(context: AppContext, viewer: Viewer, flow_id: str) -> Iterator[Session]:
    """A transaction in which the viewer's tenant has the flow (else PageNotFoundError)."""
    with context.sessions.begin() as session:
        found(flows.find(session, viewer.tenant, flow_id), flow_id)
        yield session


@router.get("/ui/flows/{flow_id}")
def flow_page(
    request: Request,
    flow_id: str,
    context: ContextDep,
    viewer: ViewerDep,
    filters: RunFiltersDep,
    notice: str | None = None,
    run: str | None = None,
) -> Response:
    outcome = Outcome(notice=notice)
    return _flow_page(request, context, viewer, flow_id, filters, outcome, highlight=run)


@router.post("/ui/flows/{flow_id}/runs")
def run_now(
    request: Request, flow_id: str, context: ContextDep, viewer: ViewerDep, form: FormDep
) -> Response:
    run_form = RunForm(
        window_start=form_text(form, "window_start"),
        window_end=form_text(form, "window_end"),
        delta_column=form_text(form, "delta_column"),
        start_at=form_text(form, "start_at"),
    )
    try:
        with _viewers_flow(context, viewer, flow_id) as session:
            run = create_run(
                session,
                viewer.tenant,
                context.secret_box,
                context.connector_context,
                run_form.payload(flow_id),
            )
            run_id = run.id
    except SluiceError as error:
        refused = Outcome(refused=error)
        filters = RunFilterForm()
        return _flow_page(request, context, viewer, flow_id, filters, refused, run_form=run_form)
    # After the commit: a worker woken earlier would not see the run yet.
    context.notify_run_ready(run_id)
    return redirect(f"/ui/flows/{flow_id}", notice="run-started", run=run_id)


@router.post("/ui/flows/{flow_id}/state")
def set_flow_state(
    request: Request, flow_id: str, context: ContextDep, viewer: ViewerDep, form: FormDep
) -> Response:
    op = form_text(form, "op")
    try:
        with _viewers_flow(context, viewer, flow_id) as session:
            row = change_state(session, viewer.tenant, flow_id, op, None)
            state = row.state
    except SluiceError as error:
        return _flow_page(
            request, context, viewer, flow_id, RunFilterForm(), Outcome(refused=error)
        )
    if state == "enabled":
        context.expect_runs()
    return redirect(f"/ui/flows/{flow_id}", notice=f"flow-{state}")
