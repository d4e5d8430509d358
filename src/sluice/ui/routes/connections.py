"""Connections: list, create from a spec's schema, detail, test, edit (JSON Patch with the
etag the page was built with) and delete. Every action builds the body the API takes and calls
the API's service function, so the checks and the coded errors are the API's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sluice.api.app_context import AppContext
from sluice.api.deps import ContextDep, SessionDep
from sluice.connectors.contract import AuthSpec, ConnectionSpec
from sluice.domain.errors import SluiceError
from sluice.schemas.connections import ConnectionCreate
from sluice.schemas.parsing import parse_model
from sluice.services import connections as service
from sluice.services.dashboard_catalog import connection_views
from sluice.services.dashboard_connections import (
    ConnectionDetail,
    connection_detail,
    source_specs,
)
from sluice.ui.deps import FormDep, Viewer, ViewerDep, form_text
from sluice.ui.routes.common import Problem, found, notice_text, problem_of, redirect
from sluice.ui.schema_forms import FormField, form_fields, params_from_form, shown_values
from sluice.ui.templating import render_page

router = APIRouter()


@router.get("/ui/connections")
def connections_page(
    request: Request, viewer: ViewerDep, session: SessionDep, notice: str | None = None
) -> Response:
    return render_page(
        request,
        "connections.html",
        viewer,
        connections=connection_views(session, viewer.tenant),
        notice=notice_text(notice),
    )


def _chosen(spec_id: str | None, auth_name: str | None) -> tuple[ConnectionSpec, AuthSpec]:
    specs = source_specs()
    spec = next((s for s in specs if s.id == spec_id), specs[0])
    auth = spec.auth_spec(auth_name or "") or spec.auth_specs[0]
    return spec, auth


def _new_form(
    request: Request,
    viewer: Viewer,
    spec: ConnectionSpec,
    auth: AuthSpec,
    *,
    name: str = "",
    description: str = "",
    values: dict[str, str] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        "connection_new.html",
        viewer,
        status_code=status_code,
        specs=source_specs(),
        spec=spec,
        auth=auth,
        fields=form_fields(auth.schema),
        name=name,
        description=description,
        values=values or {},
        problem=problem,
    )


@router.get("/ui/connections/new")
def new_connection_page(
    request: Request, viewer: ViewerDep, spec: str | None = None, auth: str | None = None
) -> Response:
    chosen_spec, chosen_auth = _chosen(spec, auth)
    return _new_form(request, viewer, chosen_spec, chosen_auth)


@router.post("/ui/connections")
def create_connection(
    request: Request, context: ContextDep, viewer: ViewerDep, form: FormDep
) -> Response:
    spec_id, auth_name = form_text(form, "spec"), form_text(form, "auth")
    # The form to show again; the body keeps what was posted, so the service names an
    # unknown spec or auth spec with its code.
    spec, auth = _chosen(spec_id, auth_name)
    fields = form_fields(auth.schema)
    params = params_from_form(form, fields)
    name, description = form_text(form, "name"), form_text(form, "description")
    body = {
        "name": name,
        "description": description,
        "connectionSpec": {"id": spec_id, "version": spec.version},
        "auth": {"specName": auth_name, "params": params},
    }
    try:
        with context.sessions.begin() as session:
            row = service.create_connection(
                session,
                viewer.tenant,
                context.secret_box,
                context.connector_context,
                parse_model(ConnectionCreate, body),
            )
            connection_id = row.id
    except SluiceError as error:
        return _new_form(
            request,
            viewer,
            spec,
            auth,
            name=name,
            description=description,
            values=shown_values(params, fields),
            problem=problem_of(error),
            status_code=error.status,
        )
    context.expect_runs()
    return redirect(f"/ui/connections/{connection_id}", notice="connection-created")


def _stored_detail(context: AppContext, viewer: Viewer, connection_id: str) -> ConnectionDetail:
    """The viewer's tenant's connection as its pages show it (else the not-found page)."""
    with context.sessions.begin() as session:
        row = found(service.connections.find(session, viewer.tenant, connection_id), connection_id)
        return connection_detail(session, viewer.tenant, row)


def _detail_page(
    request: Request,
    context: AppContext,
    viewer: Viewer,
    connection_id: str,
    *,
    notice: str | None = None,
    problem: Problem | None = None,
    test: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    detail = _stored_detail(context, viewer, connection_id)
    return render_page(
        request,
        "connection.html",
        viewer,
        status_code=status_code,
        connection=detail,
        notice=notice_text(notice),
        problem=problem,
        test=test,
    )


@router.get("/ui/connections/{connection_id}")
def connection_page(
    request: Request,
    connection_id: str,
    context: ContextDep,
    viewer: ViewerDep,
    notice: str | None = None,
) -> Response:
    return _detail_page(request, context, viewer, connection_id, notice=notice)


@router.post("/ui/connections/{connection_id}/test")
def test_connection(
    request: Request, connection_id: str, context: ContextDep, viewer: ViewerDep, _form: FormDep
) -> Response:
    # Sync route: the connector's blocking I/O runs in a worker thread, as the API's does.
    with context.sessions.begin() as session:
        row = found(service.connections.find(session, viewer.tenant, connection_id), connection_id)
        result = service.test_connection(row, context.secret_box, context.connector_context)
    return _detail_page(request, context, viewer, connection_id, test=result)


@router.post("/ui/connections/{connection_id}/delete")
def delete_connection(
    request: Request, connection_id: str, context: ContextDep, viewer: ViewerDep, _form: FormDep
) -> Response:
    try:
        with context.sessions.begin() as session:
            found(service.connections.find(session, viewer.tenant, connection_id), connection_id)
            service.delete_connection(session, viewer.tenant, connection_id)
    except SluiceError as error:
        return _detail_page(
            request,
            context,
            viewer,
            connection_id,
            problem=problem_of(error),
            status_code=error.status,
        )
    return redirect("/ui/connections", notice="connection-deleted")


def _edit_form(
    request: Request,
    context: AppContext,
    viewer: Viewer,
    connection_id: str,
    *,
    typed: dict[str, str] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> Response:
    """The edit form, from the stored connection (its current etag), or as typed."""
    detail = _stored_detail(context, viewer, connection_id)
    _auth, fields = _auth_fields(detail)
    values = typed or {
        "name": detail.name,
        "description": detail.description,
        "etag": detail.etag,
        **shown_values(
            {k: v for k, v in detail.auth_params.items() if k not in detail.sealed}, fields
        ),
    }
    return render_page(
        request,
        "connection_edit.html",
        viewer,
        status_code=status_code,
        connection=detail,
        fields=fields,
        values=values,
        problem=problem,
    )


@router.get("/ui/connections/{connection_id}/edit")
def edit_connection_page(
    request: Request, connection_id: str, context: ContextDep, viewer: ViewerDep
) -> Response:
    return _edit_form(request, context, viewer, connection_id)


def _auth_fields(detail: ConnectionDetail) -> tuple[AuthSpec | None, list[FormField]]:
    auth = detail.spec.auth_spec(detail.auth_spec or "") if detail.spec else None
    return auth, form_fields(auth.schema) if auth else []


@router.post("/ui/connections/{connection_id}/edit")
def edit_connection(
    request: Request, connection_id: str, context: ContextDep, viewer: ViewerDep, form: FormDep
) -> Response:
    detail = _stored_detail(context, viewer, connection_id)
    auth, fields = _auth_fields(detail)
    operations: list[dict[str, Any]] = [
        {"op": "replace", "path": "/name", "value": form_text(form, "name")},
        {"op": "replace", "path": "/description", "value": form_text(form, "description")},
    ]
    if auth is not None:
        params = params_from_form(form, fields, stored_secrets=detail.sealed)
        auth_value = {"specName": auth.name, "params": params}
        operations.append({"op": "replace", "path": "/auth", "value": auth_value})
    try:
        with context.sessions.begin() as session:
            service.patch_connection(
                session,
                viewer.tenant,
                context.secret_box,
                context.connector_context,
                connection_id,
                operations,
                form_text(form, "etag"),
            )
    except SluiceError as error:
        # A lost update (412) shows its code over the form reloaded from what is stored now;
        # any other refusal keeps what was typed (never a secret).
        secret_inputs = {f.input_name for f in fields if f.kind == "password"}
        typed = {
            key: value
            for key, value in form.items()
            if isinstance(value, str) and key not in secret_inputs
        }
        return _edit_form(
            request,
            context,
            viewer,
            connection_id,
            typed=None if error.status == 412 else typed,
            problem=problem_of(error),
            status_code=error.status,
        )
    return redirect(f"/ui/connections/{connection_id}", notice="connection-updated")
