"""Login with the API client's credentials, logout, and the sandbox switcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from sluice.api.deps import ContextDep
from sluice.domain.tenancy import DEFAULT_SANDBOX
from sluice.services.dashboard_logins import log_in, log_out
from sluice.ui.deps import FormDep, FormRefusedError, ViewerDep, form_text, live_session
from sluice.ui.routes.common import redirect
from sluice.ui.sessions import (
    CSRF_FIELD,
    end_session,
    is_same_origin,
    login_csrf_matches,
    login_csrf_token,
    remember_login_csrf,
    remember_sandbox,
    start_session,
)
from sluice.ui.templating import render_page

router = APIRouter()
HOME = "/ui/flows"


def safe_next(target: str) -> str:
    """Where to go after login: a dashboard path only, never another site."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def _login_form(
    request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = login_csrf_token(request)
    response = render_page(
        request,
        "login.html",
        None,
        status_code=status_code,
        next_path=next_path,
        error=error,
        login_csrf=token,
    )
    remember_login_csrf(request, response, token)
    return response


@router.get("/ui")
def home() -> RedirectResponse:
    return redirect(HOME)


@router.get("/ui/login")
def login_page(
    request: Request,
    context: ContextDep,
    next_path: Annotated[str, Query(alias="next")] = HOME,
) -> Response:
    if live_session(request, context) is not None:
        return redirect(safe_next(next_path))
    return _login_form(request, next_path=safe_next(next_path))


@router.post("/ui/login")
async def login(request: Request, context: ContextDep) -> Response:
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not is_same_origin(request) or not (
        isinstance(submitted, str) and login_csrf_matches(request, submitted)
    ):
        raise FormRefusedError("The login form is out of date; open it again and retry.")
    client_id = form_text(form, "client_id")
    secret = form_text(form, "client_secret")
    next_path = safe_next(form_text(form, "next"))
    login = log_in(context.sessions, client_id, secret, context.signer.ttl_seconds)
    if login is None:
        return _login_form(
            request,
            next_path=next_path,
            error="Unknown client id, wrong secret, or a disabled client.",
            status_code=401,
        )
    response = redirect(next_path)
    start_session(request, response, context.signer, (login.org_id, client_id, login.session_id))
    remember_sandbox(request, response, DEFAULT_SANDBOX, context.signer.ttl_seconds)
    return response


@router.post("/ui/logout")
def logout(request: Request, viewer: ViewerDep, _form: FormDep, context: ContextDep) -> Response:
    log_out(context.sessions, viewer.identity.session_id)
    response = redirect("/ui/login")
    end_session(request, response)
    return response


@router.post("/ui/sandbox")
def switch_sandbox(
    request: Request, viewer: ViewerDep, form: FormDep, context: ContextDep
) -> Response:
    name = form_text(form, "sandbox")
    response = redirect(HOME)
    if name in viewer.sandboxes:
        remember_sandbox(request, response, name, context.signer.ttl_seconds)
    return response
