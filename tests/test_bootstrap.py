"""First start of the embedded mode: default org, API client and credentials file."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sluice.bootstrap import DEFAULT_ORG_NAME, ensure_default_tenant
from sluice.config import Settings
from sluice.store import tenants
from sluice.store.db import make_engine, make_session_factory, transaction, upgrade_schema


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    settings = Settings(data_dir=tmp_path / "data")
    engine = make_engine(settings.resolved_database_url)
    upgrade_schema(engine)
    yield settings, make_session_factory(engine)
    engine.dispose()


def test_first_start_creates_org_client_and_private_file(
    embedded: tuple[Settings, sessionmaker[Session]],
) -> None:
    settings, sessions = embedded
    credentials = ensure_default_tenant(settings, sessions)
    path = settings.credentials_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored == {"orgId": credentials.org_id, "clientId": credentials.client_id,
                      "clientSecret": credentials.client_secret, "sandboxName": "prod"}
    with transaction(sessions) as session:
        assert [o.name for o in tenants.list_orgs(session)] == [DEFAULT_ORG_NAME]
        assert tenants.authenticate_client(session, credentials.client_id,
                                           credentials.client_secret) is not None
        assert [s.name for s in tenants.list_sandboxes(session, credentials.org_id)] == ["prod"]


def test_next_start_reuses_the_file_and_the_client(
    embedded: tuple[Settings, sessionmaker[Session]],
) -> None:
    settings, sessions = embedded
    first = ensure_default_tenant(settings, sessions)
    again = ensure_default_tenant(settings, sessions)
    assert again == first
    with transaction(sessions) as session:
        assert len(tenants.list_clients(session)) == 1


def test_a_disabled_client_is_replaced_in_the_same_org(
    embedded: tuple[Settings, sessionmaker[Session]],
) -> None:
    settings, sessions = embedded
    first = ensure_default_tenant(settings, sessions)
    with transaction(sessions) as session:
        tenants.set_client_enabled(session, first.client_id, False)
    second = ensure_default_tenant(settings, sessions)
    assert second.client_id != first.client_id
    assert second.org_id == first.org_id
    assert json.loads(settings.credentials_path.read_text())["clientId"] == second.client_id


def test_a_file_from_another_database_is_replaced(
    embedded: tuple[Settings, sessionmaker[Session]],
) -> None:
    settings, sessions = embedded
    settings.credentials_path.parent.mkdir(parents=True, exist_ok=True)
    settings.credentials_path.write_text(json.dumps({
        "orgId": "GONE@SluiceOrg", "clientId": "sluice-gone", "clientSecret": "x"}))
    credentials = ensure_default_tenant(settings, sessions)
    assert credentials.client_id != "sluice-gone"
    assert stat.S_IMODE(settings.credentials_path.stat().st_mode) == 0o600


def test_an_unreadable_file_is_replaced(
    embedded: tuple[Settings, sessionmaker[Session]],
) -> None:
    settings, sessions = embedded
    settings.credentials_path.parent.mkdir(parents=True, exist_ok=True)
    settings.credentials_path.write_text("{not json")
    credentials = ensure_default_tenant(settings, sessions)
    assert json.loads(settings.credentials_path.read_text())["clientId"] == credentials.client_id


def test_the_secret_is_never_logged(
    embedded: tuple[Settings, sessionmaker[Session]], caplog: pytest.LogCaptureFixture,
) -> None:
    settings, sessions = embedded
    with caplog.at_level(logging.DEBUG):
        credentials = ensure_default_tenant(settings, sessions)
    assert credentials.client_id in caplog.text
    assert credentials.client_secret not in caplog.text
    assert credentials.client_secret not in repr(credentials)
