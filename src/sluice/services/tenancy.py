"""Orgs, sandboxes and API clients as the admin commands, the sandboxes API and the token
endpoint use them: plain records out, so no caller holds (or lazily loads) a store row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.orm import Session

from sluice.domain.errors import NotFoundError, SluiceError
from sluice.domain.tenancy import Tenant
from sluice.store import tenants
from sluice.store.tenants import IssuedClient as IssuedClient

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")


@dataclass(frozen=True)
class OrgRecord:
    id: str
    name: str
    created_at: int


@dataclass(frozen=True)
class SandboxRecord:
    id: str
    org_id: str
    name: str
    title: str
    type: str
    state: str
    is_default: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class ClientRecord:
    id: str
    org_id: str
    name: str
    enabled: bool
    created_at: int


def _record(kind: type[Record], row: object) -> Record:
    """A record of the row's attributes of the same names."""
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})


def create_org(session: Session, name: str, org_id: str | None = None) -> OrgRecord:
    return _record(OrgRecord, tenants.create_org(session, name, org_id))


def list_orgs(session: Session) -> list[OrgRecord]:
    return [_record(OrgRecord, o) for o in tenants.list_orgs(session)]


def require_org(session: Session, org_id: str) -> None:
    if tenants.get_org(session, org_id) is None:
        raise NotFoundError("orgs", org_id)


def create_sandbox(
    session: Session, org_id: str, name: str, *, title: str | None, sandbox_type: str
) -> SandboxRecord:
    """An operator's new sandbox, of either type (the admin command)."""
    row = tenants.create_sandbox(session, org_id, name, title=title, sandbox_type=sandbox_type)
    return _record(SandboxRecord, row)


def create_development_sandbox(
    session: Session, org_id: str, name: str, *, title: str | None, sandbox_type: str
) -> SandboxRecord:
    """A client's new sandbox (the API): only `prod` is a production sandbox."""
    if sandbox_type == "production":
        raise SluiceError(
            "Only the 'prod' sandbox is a production sandbox; create development sandboxes.",
            code=2107,
            status=400,
            title="Bad request",
        )
    return create_sandbox(session, org_id, name, title=title, sandbox_type=sandbox_type)


def list_sandboxes(session: Session, org_id: str) -> list[SandboxRecord]:
    return [_record(SandboxRecord, s) for s in tenants.list_sandboxes(session, org_id)]


def get_sandbox(session: Session, org_id: str, name: str) -> SandboxRecord:
    return _record(SandboxRecord, tenants.get_sandbox(session, org_id, name))


def tenant_for(session: Session, org_id: str, client_id: str, sandbox_name: str) -> Tenant:
    """The tenant of a sandbox name in the org; SandboxNotFoundError when there is none."""
    return tenants.tenant_for(session, org_id, client_id, sandbox_name)


def create_client(session: Session, org_id: str, name: str) -> IssuedClient:
    return tenants.create_client(session, org_id, name)


def list_clients(session: Session, org_id: str | None = None) -> list[ClientRecord]:
    return [_record(ClientRecord, c) for c in tenants.list_clients(session, org_id)]


def _require_client(session: Session, client_id: str, org_id: str | None) -> None:
    if not any(c.id == client_id for c in tenants.list_clients(session, org_id)):
        # Unknown, or in another org than the operator named.
        raise NotFoundError("apiClients", client_id)


def set_client_enabled(
    session: Session, client_id: str, enabled: bool, *, org_id: str | None = None
) -> ClientRecord:
    """Enable or disable a client (of `org_id` when given); disabling ends its sessions."""
    _require_client(session, client_id, org_id)
    return _record(ClientRecord, tenants.set_client_enabled(session, client_id, enabled))


def rotate_client_secret(
    session: Session, client_id: str, *, org_id: str | None = None
) -> IssuedClient:
    _require_client(session, client_id, org_id)
    return tenants.rotate_client_secret(session, client_id)


def authenticated_org(session: Session, client_id: str, client_secret: str) -> str | None:
    """The org of the enabled client whose secret matches, else None (never says which part
    was wrong)."""
    client = tenants.authenticate_client(session, client_id, client_secret)
    return None if client is None else client.org_id


def enabled_client_org(session: Session, client_id: str) -> str | None:
    """The org of the client while it is enabled; None when unknown or disabled."""
    client = tenants.active_client(session, client_id)
    return None if client is None else client.org_id


def on_tenancy_change(changed: Callable[[], None]) -> None:
    """Call `changed` whenever this process changes a client, an org or a sandbox (caches of
    who a caller is must forget it)."""
    tenants.listen_for_tenancy_changes(changed)
