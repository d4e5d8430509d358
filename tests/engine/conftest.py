"""Engine fixtures: a migrated metadata store (SQLite and PostgreSQL) with one tenant, and a
worker executing runs for real on the settings' store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sluice.config import Settings
from sluice.domain.tenancy import Tenant
from sluice.engine.worker import Worker
from sluice.store import tenants
from sluice.store.db import make_engine, make_session_factory, transaction, upgrade_schema
from support.api_runs import make_worker


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> Tenant:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Engine Org")
        sandbox = tenants.find_sandbox(session, org.id, "prod")
        assert sandbox is not None
        return Tenant(org.id, sandbox.id, "prod", "engine-tests")


@pytest.fixture
def worker(settings: Settings) -> Worker:
    return make_worker(settings)
