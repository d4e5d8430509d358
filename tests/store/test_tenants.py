"""Orgs, sandboxes and API clients in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.errors import BadRequestError, NotFoundError, SluiceError
from sluice.security.passwords import verify_secret
from sluice.store import tenants
from sluice.store.db import transaction
from sluice.store.models import ApiClient, Sandbox


def _sandbox_count(sessions: sessionmaker[Session], org_id: str) -> int:
    with transaction(sessions) as session:
        count = session.scalar(select(func.count()).where(Sandbox.org_id == org_id))
        return int(count or 0)


def test_create_org_creates_its_default_prod_sandbox(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Acme")
    with transaction(sessions) as session:
        sandboxes = tenants.list_sandboxes(session, org.id)
        assert [s.name for s in sandboxes] == ["prod"]
        prod = sandboxes[0]
        assert prod.is_default is True
        assert prod.type == "production"
        assert prod.state == "active"
        tenant = tenants.tenant_for(session, org.id, "client", "prod")
        assert (tenant.org_id, tenant.sandbox_id, tenant.sandbox_name) == (org.id, prod.id, "prod")


def test_duplicate_org_id_is_refused(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Acme")
    with pytest.raises(BadRequestError) as refused, transaction(sessions) as session:
        tenants.create_org(session, "Acme again", org_id=org.id)
    assert refused.value.code == 1010
    assert _sandbox_count(sessions, org.id) == 1


def test_duplicate_sandbox_name_is_refused_but_allowed_in_another_org(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Acme")
        other = tenants.create_org(session, "Other")
        tenants.create_sandbox(session, org.id, "dev")
    for name in ("dev", "prod"):
        with pytest.raises(BadRequestError) as refused, transaction(sessions) as session:
            tenants.create_sandbox(session, org.id, name)
        assert refused.value.code == 2108
        assert refused.value.status == 400
    assert _sandbox_count(sessions, org.id) == 2
    with transaction(sessions) as session:
        assert tenants.create_sandbox(session, other.id, "dev").org_id == other.id
    with transaction(sessions) as session:
        ours = tenants.find_sandbox(session, org.id, "dev")
        theirs = tenants.find_sandbox(session, other.id, "dev")
        assert ours is not None and theirs is not None and ours.id != theirs.id


INVALID_NAMES = [
    "",
    "Dev",
    "DEV",
    "dev_1",
    "-dev",
    "dev space",
    "dév",
    "dev.1",
    "a" * 64,
    "dev/x",
    "dev\n",
    "\ndev",
]


def test_invalid_sandbox_names_are_refused(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Acme")
    for name in INVALID_NAMES:
        with pytest.raises(BadRequestError) as refused, transaction(sessions) as session:
            tenants.create_sandbox(session, org.id, name)
        assert refused.value.code == 2106, name
    assert _sandbox_count(sessions, org.id) == 1
    with transaction(sessions) as session:
        for name in ("a" * 63, "0dev", "dev-1", "x"):
            assert tenants.create_sandbox(session, org.id, name).name == name
    with pytest.raises(BadRequestError) as refused, transaction(sessions) as session:
        tenants.create_sandbox(session, org.id, "qa", sandbox_type="staging")
    assert refused.value.code == 2107


def test_sandbox_of_unknown_org_is_not_found(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(NotFoundError), transaction(sessions) as session:
        tenants.create_sandbox(session, "no-such-org", "dev")
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Acme")
    with pytest.raises(SluiceError) as missing, transaction(sessions) as session:
        tenants.tenant_for(session, org.id, "client", "staging")
    assert (missing.value.code, missing.value.status) == (2101, 404)


def test_authenticate_client_checks_the_secret_and_the_enabled_flag(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Acme")
        issued = tenants.create_client(session, org.id, "ci")
        other = tenants.create_client(session, org.id, "other")
    with transaction(sessions) as session:
        client = tenants.authenticate_client(session, issued.client_id, issued.client_secret)
        assert client is not None
        assert (client.id, client.org_id) == (issued.client_id, org.id)
        assert tenants.authenticate_client(session, issued.client_id, "wrong") is None
        assert tenants.authenticate_client(session, issued.client_id, "") is None
        # Another client's (valid) secret does not open this client.
        assert tenants.authenticate_client(session, issued.client_id, other.client_secret) is None
        assert tenants.authenticate_client(session, "sluice-unknown", issued.client_secret) is None
        tenants.set_client_enabled(session, issued.client_id, False)
    with transaction(sessions) as session:
        assert tenants.authenticate_client(session, issued.client_id, issued.client_secret) is None
        assert tenants.active_client(session, issued.client_id) is None
        tenants.set_client_enabled(session, issued.client_id, True)
    with transaction(sessions) as session:
        assert tenants.authenticate_client(session, issued.client_id, issued.client_secret)
        assert tenants.active_client(session, issued.client_id) is not None
    with pytest.raises(NotFoundError), transaction(sessions) as session:
        tenants.set_client_enabled(session, "sluice-unknown", False)
    with pytest.raises(NotFoundError), transaction(sessions) as session:
        tenants.create_client(session, "no-such-org", "ci")


def test_client_secrets_are_stored_hashed(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Acme")
        first = tenants.create_client(session, org.id, "ci")
        second = tenants.create_client(session, org.id, "ci")
    assert first.client_secret != second.client_secret
    with transaction(sessions) as session:
        rows = session.execute(text("SELECT * FROM api_clients")).mappings().all()
        stored = {row["id"]: row for row in rows}
        assert set(stored) == {first.client_id, second.client_id}
        for issued in (first, second):
            row = stored[issued.client_id]
            for value in row.values():
                assert issued.client_secret not in str(value)
            assert verify_secret(issued.client_secret, str(row["secret_hash"]))
        hashes = [str(stored[c.client_id]["secret_hash"]) for c in (first, second)]
        assert all(h.startswith("scrypt$") for h in hashes)
        # Salted: equal inputs would not give equal hashes either.
        assert hashes[0] != hashes[1]
        model = session.get(ApiClient, first.client_id)
        assert model is not None and model.secret_hash == hashes[0]
