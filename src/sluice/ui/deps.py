"""Dependencies of the dashboard's routes: the logged-in viewer and checked forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from sluice.api.app_context import AppContext
from sluice.api.deps import ContextDep
from sluice.domain.tenancy import Tenant
from sluice.services.dashboard_logins import LoginKey, is_session_open, viewer_access
from sluice.ui.sessions import (
    CSRF_FIELD,
    SessionIdentity,
    chosen_sandbox,
    csrf_matches,
    is_same_origin,
    read_session,
)


class LoginRequiredError(Exception):
    """No valid session: pages redirect to the login form, the live endpoints answer 401."""


class FormRefusedError(Exception):
    """A state-changing request failed the CSRF or same-origin check (answered 403)."""


class PageNotFoundError(Exception):
    """The resource is not in the viewer's tenant (another tenant's looks the same)."""


@dataclass(frozen=True)
class Viewer:
    """The logged-in API client, acting in the sandbox it chose."""

    identity: SessionIdentity
    tenant: Tenant
    sandboxes: tuple[str, ...]

    @property
    def csrf_token(self) -> str:
        return self.identity.csrf_token


def _login_key(identity: SessionIdentity) -> LoginKey:
    return LoginKey(identity.org_id, identity.client_id, identity.session_id)


def live_session(request: Request, context: AppContext) -> SessionIdentity | None:
    """The cookie's session if it is still open in the metadata database (not logged out,
    not revoked) and its client still enabled; else None."""
    identity = read_session(request, context.signer)
    if identity is None or not is_session_open(context.sessions, _login_key(identity)):
        return None
    return identity


def current_viewer(request: Request, context: ContextDep) -> Viewer:
    identity = read_session(request, context.signer)
    if identity is None:
        raise LoginRequiredError
    access = viewer_access(context.sessions, _login_key(identity), chosen_sandbox(request))
    if access is None:
        raise LoginRequiredError
    return Viewer(identity=identity, tenant=access.tenant, sandboxes=access.sandboxes)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


async def checked_form(request: Request, viewer: ViewerDep) -> FormData:
    """The posted form, once it is known to come from the viewer's own dashboard page."""
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not is_same_origin(request):
        raise FormRefusedError("The request did not come from this dashboard's origin.")
    if not isinstance(submitted, str) or not csrf_matches(viewer.identity, submitted):
        raise FormRefusedError("The form's security token is missing or out of date.")
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
