"""Orgs, sandboxes and API clients."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, object_session

from sluice.domain.errors import BadRequestError, NotFoundError, SandboxNotFoundError
from sluice.domain.tenancy import DEFAULT_SANDBOX, Tenant, is_valid_sandbox_name
from sluice.security.passwords import hash_secret, new_client_secret, verify_secret
from sluice.store import dashboard_sessions
from sluice.store.clock import new_id, now_ms
from sluice.store.models import ApiClient, Org, Sandbox


@dataclass(frozen=True)
class IssuedClient:
    """A new API client; the secret is shown once and only its hash is stored."""

    org_id: str
    client_id: str
    client_secret: str


def new_org_id() -> str:
    return secrets.token_hex(12).upper() + "@SluiceOrg"


def create_org(session: Session, name: str, org_id: str | None = None) -> Org:
    org_id = org_id or new_org_id()
    if session.get(Org, org_id) is not None:
        raise BadRequestError(f"Org {org_id} already exists.", code=1010)
    org = Org(id=org_id, name=name, created_at=now_ms())
    session.add(org)
    session.flush()
    create_sandbox(
        session,
        org.id,
        DEFAULT_SANDBOX,
        title="Production",
        sandbox_type="production",
        is_default=True,
    )
    return org


def get_org(session: Session, org_id: str) -> Org | None:
    return session.get(Org, org_id)


def list_orgs(session: Session) -> list[Org]:
    return list(session.scalars(select(Org).order_by(Org.created_at)))


def create_sandbox(
    session: Session,
    org_id: str,
    name: str,
    *,
    title: str | None = None,
    sandbox_type: str = "development",
    is_default: bool = False,
) -> Sandbox:
    if not is_valid_sandbox_name(name):
        raise BadRequestError(
            f"Invalid sandbox name '{name}': use lowercase letters, digits and '-' "
            "(at most 63 characters).",
            code=2106,
        )
    if sandbox_type not in ("production", "development"):
        raise BadRequestError("Sandbox type must be 'production' or 'development'.", code=2107)
    if session.get(Org, org_id) is None:
        raise NotFoundError("orgs", org_id)
    if find_sandbox(session, org_id, name) is not None:
        raise BadRequestError(f"Sandbox '{name}' already exists.", code=2108)
    stamp = now_ms()
    sandbox = Sandbox(
        id=new_id(),
        org_id=org_id,
        name=name,
        title=title or name,
        type=sandbox_type,
        state="active",
        is_default=is_default,
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(sandbox)
    session.flush()
    return sandbox


def find_sandbox(session: Session, org_id: str, name: str) -> Sandbox | None:
    return session.scalar(select(Sandbox).where(Sandbox.org_id == org_id, Sandbox.name == name))


def list_sandboxes(session: Session, org_id: str) -> list[Sandbox]:
    return list(
        session.scalars(select(Sandbox).where(Sandbox.org_id == org_id).order_by(Sandbox.name))
    )


def get_sandbox(session: Session, org_id: str, name: str) -> Sandbox:
    """The org's sandbox of that name; SandboxNotFoundError when there is none."""
    sandbox = find_sandbox(session, org_id, name) if is_valid_sandbox_name(name) else None
    if sandbox is None:
        raise SandboxNotFoundError(name)
    return sandbox


def create_client(session: Session, org_id: str, name: str) -> IssuedClient:
    if session.get(Org, org_id) is None:
        raise NotFoundError("orgs", org_id)
    client_id = "sluice-" + secrets.token_hex(12)
    secret = new_client_secret()
    session.add(
        ApiClient(
            id=client_id,
            org_id=org_id,
            name=name,
            secret_hash=hash_secret(secret),
            enabled=True,
            created_at=now_ms(),
        )
    )
    session.flush()
    return IssuedClient(org_id=org_id, client_id=client_id, client_secret=secret)


def list_clients(session: Session, org_id: str | None = None) -> list[ApiClient]:
    statement = select(ApiClient).order_by(ApiClient.created_at)
    if org_id:
        statement = statement.where(ApiClient.org_id == org_id)
    return list(session.scalars(statement))


def set_client_enabled(session: Session, client_id: str, enabled: bool) -> ApiClient:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFoundError("apiClients", client_id)
    client.enabled = enabled
    if not enabled:
        dashboard_sessions.revoke_all_of_client(session, client_id)
    return client


def rotate_client_secret(session: Session, client_id: str) -> IssuedClient:
    """A new secret for the client; the old one stops working, and so do the dashboard
    sessions opened with it."""
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFoundError("apiClients", client_id)
    secret = new_client_secret()
    client.secret_hash = hash_secret(secret)
    dashboard_sessions.revoke_all_of_client(session, client_id)
    session.flush()
    return IssuedClient(org_id=client.org_id, client_id=client_id, client_secret=secret)


def authenticate_client(session: Session, client_id: str, client_secret: str) -> ApiClient | None:
    """The enabled client whose secret matches, else None (never says which part was wrong)."""
    client = session.get(ApiClient, client_id)
    if client is None or not client.enabled:
        # Spend the same time as a real check so response time does not reveal valid ids.
        verify_secret(client_secret, _DUMMY_HASH)
        return None
    return client if verify_secret(client_secret, client.secret_hash) else None


def active_client(session: Session, client_id: str) -> ApiClient | None:
    client = session.get(ApiClient, client_id)
    return client if client is not None and client.enabled else None


def tenant_for(session: Session, org_id: str, client_id: str, sandbox_name: str) -> Tenant:
    sandbox = get_sandbox(session, org_id, sandbox_name)
    return Tenant(
        org_id=org_id, sandbox_id=sandbox.id, sandbox_name=sandbox.name, client_id=client_id
    )


# hash_secret("not-a-real-secret"), written out: checking against it costs one scrypt, as a
# real check does, and computing it on import cost one more scrypt (and 16 MiB) at each start.
_DUMMY_HASH = "scrypt$fvwXrHhzgSq9kcv3ryz9sA==$eyUd6z1GbdEcQ2RLGxHQzo8msOpAErYhJgK6+NWb8ak="


_TENANCY_CHANGED = "sluice.tenancy_changed"


def listen_for_tenancy_changes(changed: Callable[[], None]) -> None:
    """Call `changed` when a client, an org or a sandbox is updated or deleted in this
    process: at flush, and once more when that session commits (a reader between the two
    must not keep the old row)."""

    def written(_mapper: Any, _connection: Any, target: object) -> None:
        changed()
        session = object_session(target)
        if session is not None:
            session.info[_TENANCY_CHANGED] = True

    def committed(session: Session) -> None:
        if session.info.pop(_TENANCY_CHANGED, False):
            changed()

    def rolled_back(session: Session, _previous_transaction: object) -> None:
        session.info.pop(_TENANCY_CHANGED, None)

    for model in (ApiClient, Org, Sandbox):
        event.listen(model, "after_update", written)
        event.listen(model, "after_delete", written)
    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_soft_rollback", rolled_back)
