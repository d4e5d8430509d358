"""Dependencies of the dashboard's routes: the logged-in viewer and checked forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from sluice.api.app_context import AppContext
from sluice.api.deps import ContextDep
from sluice.domain.tenancy import DEFAULT_SANDBOX, Tenant
from sluice.store import dashboard_sessions, tenants
from sluice.store.db import transaction
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


def live_session(request: Request, context: AppContext) -> SessionIdentity | None:
    """The cookie's session if it is still open in the metadata database (not logged out,
    not revoked) and its client still enabled; else None."""
    with transaction(context.sessions) as session:
        return _open_session(request, context, session)


def _open_session(
    request: Request, context: AppContext, session: Session
) -> SessionIdentity | None:
    identity = read_session(request, context.signer)
    return identity if identity is not None and _is_open(session, identity) else None


def _is_open(session: Session, identity: SessionIdentity) -> bool:
    client = tenants.active_client(session, identity.client_id)
    # Disabled or deleted since the login: the session dies with it.
    return (
        client is not None
        and client.org_id == identity.org_id
        and dashboard_sessions.is_live(session, identity.session_id, identity.client_id)
    )


def current_viewer(request: Request, context: ContextDep) -> Viewer:
    with transaction(context.sessions) as session:
        identity = _open_session(request, context, session)
        if identity is None:
            raise LoginRequiredError
        sandboxes = tuple(s.name for s in tenants.list_sandboxes(session, identity.org_id))
        wanted = chosen_sandbox(request)
        if wanted not in sandboxes:
            wanted = DEFAULT_SANDBOX if DEFAULT_SANDBOX in sandboxes else sandboxes[0]
        tenant = tenants.tenant_for(session, identity.org_id, identity.client_id, wanted)
    return Viewer(identity=identity, tenant=tenant, sandboxes=sandboxes)


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
