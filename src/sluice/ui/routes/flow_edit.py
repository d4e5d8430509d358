"""Editing a flow's schedule and options: a JSON Patch with the etag the form was built
from, through the API's `patch_flow`. A lost update (412) shows its code and the form
reloads with what is stored now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sluice.api.app_context import AppContext
from sluice.api.deps import ContextDep
from sluice.domain.copy_transformation import delta_column_of
from sluice.domain.errors import SluiceError
from sluice.domain.flow_specs import find_flow_spec
from sluice.services.flows import flows, patch_flow
from sluice.services.resource_types import FlowResource
from sluice.ui.deps import FormDep, Viewer, ViewerDep, form_text
from sluice.ui.routes.common import Problem, found, problem_of, redirect
from sluice.ui.templating import render_page
from sluice.ui.wizard_form import FORM_CHOICES, WizardForm

router = APIRouter()
# The options this form edits; any other option of the flow is kept as it is.
EDITED_OPTIONS = (
    "writeMode",
    "primaryKey",
    "schemaEvolution",
    "errorDiagnosticsEnabled",
    "partialIngestionPercent",
)


def _form_of(row: FlowResource) -> WizardForm:
    schedule = row.doc.get("scheduleParams") or {}
    options = row.doc.get("options") or {}
    spec = find_flow_spec(row.flow_spec_id)
    start = schedule.get("startTime")
    percent = options.get("partialIngestionPercent")
    return WizardForm(
        kind=spec.source_kind if spec else "table",
        frequency=str(schedule.get("frequency", "")),
        interval=str(schedule.get("interval", "")),
        backfill="on" if schedule.get("backfill") else "",
        start_at=datetime.fromtimestamp(start, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(start, int)
        else "",
        write_mode=str(options.get("writeMode", "")),
        primary_key=",".join(options.get("primaryKey") or []),
        schema_evolution=str(options.get("schemaEvolution", "")),
        error_diagnostics="on" if options.get("errorDiagnosticsEnabled") else "",
        partial_percent="" if percent is None else f"{percent:g}",
        name=row.name,
    )


def _edit_page(
    request: Request,
    context: AppContext,
    viewer: Viewer,
    flow_id: str,
    *,
    typed: WizardForm | None = None,
    typed_etag: str = "",
    problem: Problem | None = None,
    status_code: int = 200,
) -> Response:
    with context.sessions.begin() as session:
        row = found(flows.find(session, viewer.tenant, flow_id), flow_id)
        stored = _form_of(row)
        etag, name = row.etag, row.name
        delta_column = delta_column_of(row.doc.get("transformations"))
    return render_page(
        request,
        "flow_edit.html",
        viewer,
        status_code=status_code,
        flow_id=flow_id,
        flow_name=name,
        form=typed or stored,
        etag=typed_etag or etag,
        delta_column=delta_column,
        problem=problem,
        **FORM_CHOICES,
    )


@router.get("/ui/flows/{flow_id}/edit")
def edit_flow_page(
    request: Request, flow_id: str, context: ContextDep, viewer: ViewerDep
) -> Response:
    return _edit_page(request, context, viewer, flow_id)


def _operations(current: dict[str, Any], typed: WizardForm) -> list[dict[str, Any]]:
    kept = {k: v for k, v in current.items() if k not in EDITED_OPTIONS}
    return [
        {"op": "replace", "path": "/scheduleParams", "value": typed.schedule_params()},
        {"op": "replace", "path": "/options", "value": {**kept, **typed.options()}},
    ]


@router.post("/ui/flows/{flow_id}/edit")
def edit_flow(
    request: Request, flow_id: str, context: ContextDep, viewer: ViewerDep, form: FormDep
) -> Response:
    typed = WizardForm.from_form(form)
    etag = form_text(form, "etag")
    try:
        with context.sessions.begin() as session:
            row = found(flows.find(session, viewer.tenant, flow_id), flow_id)
            operations = _operations(dict(row.doc.get("options") or {}), typed)
            patch_flow(session, viewer.tenant, flow_id, operations, etag)
    except SluiceError as error:
        lost_update = error.status == 412
        return _edit_page(
            request,
            context,
            viewer,
            flow_id,
            typed=None if lost_update else typed,
            typed_etag="" if lost_update else etag,
            problem=problem_of(error),
            status_code=error.status,
        )
    return redirect(f"/ui/flows/{flow_id}", notice="flow-updated")
