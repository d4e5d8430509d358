"""First start of the embedded mode: a default org, an API client and its credentials file."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from sluice.client import Credentials
from sluice.config import Settings
from sluice.domain.tenancy import DEFAULT_SANDBOX
from sluice.security.keys import write_private_file
from sluice.store import tenants
from sluice.store.db import transaction
from sluice.store.models import Org

DEFAULT_ORG_NAME = "Sluice Default Org"
DEFAULT_CLIENT_NAME = "default"

log = logging.getLogger("sluice.bootstrap")


def _stored_credentials(settings: Settings) -> Credentials | None:
    path = settings.credentials_path
    if not path.exists():
        return None
    try:
        return Credentials.read(path)
    except ValueError as exc:  # also json.JSONDecodeError
        log.warning("ignoring unreadable %s (%s); issuing new credentials", path, exc)
        return None


def _still_valid(session: Session, credentials: Credentials) -> bool:
    client = tenants.active_client(session, credentials.client_id)
    return client is not None and client.org_id == credentials.org_id


def _default_org(session: Session) -> Org:
    existing = next((o for o in tenants.list_orgs(session) if o.name == DEFAULT_ORG_NAME), None)
    return existing or tenants.create_org(session, DEFAULT_ORG_NAME)


def ensure_default_tenant(
    settings: Settings, session_factory: sessionmaker[Session]
) -> Credentials:
    """The credentials in `credentials.json` if their client still exists and is enabled;
    otherwise a new client in the default org (created if needed), written to a 0600 file.

    The file is written inside the transaction, so a failed write leaves no orphan client;
    a crash after the write but before the commit is healed on the next start."""
    stored = _stored_credentials(settings)
    with transaction(session_factory) as session:
        if stored is not None and _still_valid(session, stored):
            return stored
        org = _default_org(session)
        issued = tenants.create_client(session, org.id, DEFAULT_CLIENT_NAME)
        credentials = Credentials(
            issued.org_id, issued.client_id, issued.client_secret, DEFAULT_SANDBOX
        )
        write_private_file(settings.credentials_path, credentials.to_json())
    log.info(
        "default org %s, API client %s; credentials written to %s",
        credentials.org_id,
        credentials.client_id,
        settings.credentials_path,
    )
    return credentials
