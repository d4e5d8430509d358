"""Dashboard logins: opening a session with the API client's credentials, checking it on
every page (not logged out or revoked, its client still enabled), and logging out.

The cookie itself (signing, CSRF, same origin) is the dashboard's (`sluice.ui.sessions`);
this module holds what the metadata database says about the session it names."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import DEFAULT_SANDBOX, Tenant
from sluice.store import dashboard_sessions, tenants


@dataclass(frozen=True)
class LoginKey:
    """Whom a (verified) session cookie names."""

    org_id: str
    client_id: str
    session_id: str


@dataclass(frozen=True)
class ViewerAccess:
    """What an open session may see: the tenant of the sandbox it works in, and all the
    org's sandbox names (for the switcher)."""

    tenant: Tenant
    sandboxes: tuple[str, ...]


def _is_open(session: Session, key: LoginKey) -> bool:
    client = tenants.active_client(session, key.client_id)
    # Disabled or deleted since the login: the session dies with it.
    return (
        client is not None
        and client.org_id == key.org_id
        and dashboard_sessions.is_live(session, key.session_id, key.client_id)
    )


def is_session_open(sessions: sessionmaker[Session], key: LoginKey) -> bool:
    with sessions.begin() as session:
        return _is_open(session, key)


def viewer_access(
    sessions: sessionmaker[Session], key: LoginKey, wanted_sandbox: str
) -> ViewerAccess | None:
    """The open session's access, in `wanted_sandbox` if the org has it (else `prod`, else
    its first sandbox); None when the session is not open."""
    with sessions.begin() as session:
        if not _is_open(session, key):
            return None
        sandboxes = tuple(s.name for s in tenants.list_sandboxes(session, key.org_id))
        name = wanted_sandbox
        if name not in sandboxes:
            name = DEFAULT_SANDBOX if DEFAULT_SANDBOX in sandboxes else sandboxes[0]
        tenant = tenants.tenant_for(session, key.org_id, key.client_id, name)
    return ViewerAccess(tenant=tenant, sandboxes=sandboxes)


def log_in(
    sessions: sessionmaker[Session], client_id: str, client_secret: str, ttl_seconds: int
) -> LoginKey | None:
    """A new session of the enabled client whose secret matches; None otherwise (never says
    which part was wrong)."""
    if not client_id:
        return None
    with sessions.begin() as session:
        client = tenants.authenticate_client(session, client_id, client_secret)
        if client is None:
            return None
        session_id = dashboard_sessions.open_session(session, client_id, ttl_seconds)
        return LoginKey(org_id=client.org_id, client_id=client_id, session_id=session_id)


def log_out(sessions: sessionmaker[Session], session_id: str) -> None:
    """Revoked in the database, not only forgotten by the browser: a copy of the cookie
    stops working too, on every API process."""
    with sessions.begin() as session:
        dashboard_sessions.revoke(session, session_id)
