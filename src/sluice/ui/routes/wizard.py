"""The flow wizard: source -> dataset -> options -> schedule on one form, then a review of
the exact API bodies and the next ticks, then create. The review is a dry run of the same
service calls (rolled back), so a refused body shows its code before anything is created."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sluice.api.app_context import AppContext
from sluice.api.deps import ContextDep
from sluice.domain.errors import SluiceError
from sluice.domain.schedule import parse_schedule
from sluice.services.dashboard_choices import (
    ConnectionChoice,
    dataset_choices,
    source_connection_choices,
)
from sluice.services.explore import ExploreQuery
from sluice.services.flow_authoring import check_flow_bodies, create_flow_from_bodies
from sluice.ui.deps import FormDep, Viewer, ViewerDep, form_text
from sluice.ui.routes.common import Problem, explore_for_page, problem_of, redirect
from sluice.ui.templating import render_page
from sluice.ui.wizard_form import FORM_CHOICES, WizardForm, upcoming_ticks

router = APIRouter()


def _reflected_columns(
    context: AppContext, viewer: Viewer, form: WizardForm
) -> tuple[list[dict[str, str]], Problem | None]:
    """The source's columns with their types, read as the explore preview reads them."""
    place = form.sample if form.is_file else form.table
    if not form.connection or not place:
        return [], None
    query = ExploreQuery(
        object_type="file" if form.is_file else "table",
        object=place,
        **form.file_options.explore_fields(),
    )
    with context.sessions.begin() as session:
        explored = explore_for_page(session, context, viewer.tenant, form.connection, query)
    result = explored.result
    columns = result.get("schema", {}).get("columns", []) if isinstance(result, dict) else []
    return [c for c in columns if isinstance(c, dict)], explored.problem


def _wizard_page(
    request: Request,
    context: AppContext,
    viewer: Viewer,
    form: WizardForm,
    *,
    problem: Problem | None = None,
    status_code: int = 200,
) -> Response:
    columns, reflect_problem = _reflected_columns(context, viewer, form)
    with context.sessions.begin() as session:
        connections = source_connection_choices(session, viewer.tenant)
        datasets = dataset_choices(session, viewer.tenant)
    return render_page(
        request,
        "flow_new.html",
        viewer,
        status_code=status_code,
        form=form,
        connections=connections,
        datasets=datasets,
        columns=columns,
        reflect_problem=reflect_problem,
        problem=problem,
        **FORM_CHOICES,
    )


@router.get("/ui/flows/new")
def new_flow_page(
    request: Request,
    context: ContextDep,
    viewer: ViewerDep,
    connection: str = "",
    place: Annotated[str, Query(alias="object")] = "",
    kind: str = "table",
    file_type: str = "",
    column_delimiter: str = "",
    compression_type: str = "",
    header: str = "",
) -> Response:
    form = WizardForm.starting(
        connection,
        "file" if kind == "file" else "table",
        place,
        file_type=file_type,
        column_delimiter=column_delimiter,
        compression_type=compression_type,
        header=header,
    )
    return _wizard_page(request, context, viewer, form)


def _connection_of(
    context: AppContext, viewer: Viewer, form: WizardForm
) -> ConnectionChoice | None:
    with context.sessions.begin() as session:
        choices = source_connection_choices(session, viewer.tenant)
    return next((c for c in choices if c.id == form.connection), None)


def _review_page(
    request: Request,
    viewer: Viewer,
    form: WizardForm,
    bodies: Any,
    *,
    problem: Problem | None = None,
    status_code: int = 200,
) -> Response:
    ticks = []
    if problem is None:
        ticks = upcoming_ticks(parse_schedule(form.schedule_params(), now=int(time.time())))
    requests = [
        ("POST", "/data/foundation/flowservice/sourceConnections", bodies.source_connection),
        ("POST", "/data/foundation/catalog/dataSets", bodies.dataset),
        ("POST", "/data/foundation/flowservice/targetConnections", bodies.target_connection),
        ("POST", "/data/foundation/flowservice/flows", bodies.flow),
    ]
    return render_page(
        request,
        "flow_review.html",
        viewer,
        status_code=status_code,
        form=form,
        requests=[
            (method, path, json.dumps(body, indent=2))
            for method, path, body in requests
            if body is not None
        ],
        ticks=ticks,
        problem=problem,
    )


@router.post("/ui/flows/new")
def wizard_step(
    request: Request, context: ContextDep, viewer: ViewerDep, form: FormDep
) -> Response:
    """`step` says which button was pressed: refresh (re-read the columns), review, back,
    or create."""
    typed = WizardForm.from_form(form)
    connection = _connection_of(context, viewer, typed)
    if connection is not None:
        # The connection decides: a table source or files.
        typed = replace(typed, kind="file" if connection.source_kind == "file" else "table")
    step = form_text(form, "step")
    if step not in ("review", "create"):
        return _wizard_page(request, context, viewer, typed)
    spec_id = connection.spec_id if connection else ""
    bodies = typed.bodies(spec_id)
    try:
        if step == "review":
            check_flow_bodies(context.sessions, viewer.tenant, bodies, context.source_checker())
            return _review_page(request, viewer, typed, bodies)
        with context.sessions.begin() as session:
            created = create_flow_from_bodies(
                session, viewer.tenant, bodies, context.source_checker()
            )
    except SluiceError as error:
        return _wizard_page(
            request,
            context,
            viewer,
            typed,
            problem=problem_of(error),
            status_code=error.status,
        )
    context.expect_runs()
    return redirect(f"/ui/flows/{created.flow_id}", notice="flow-created")
