"""Shared fixtures: a metadata store on SQLite or PostgreSQL, the app, authenticated callers,
and the test process's S3 server and Azurite emulator (started on first use)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from sluice.api.app import create_app
from sluice.config import Settings
from sluice.domain.tenancy import Tenant
from sluice.store import tenants
from sluice.store.db import make_engine, make_session_factory, transaction, upgrade_schema
from support.callers import TOKEN_PATH, Caller, error_code, make_caller  # noqa: F401

if TYPE_CHECKING:  # the servers' modules are imported by the tests that use them only
    from support.azurite import Azurite
    from support.s3_server import S3Server

PG_ADMIN_DSN = os.environ.get(
    "SLUICE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL_BASE = os.environ.get("SLUICE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database migrated once per test worker; each test clones it (fast, isolated)."""
    # The pid keeps two test runs on one machine from dropping each other's template.
    name = f"sluice_tpl_{_worker()}_{os.getpid()}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"{PG_URL_BASE}/{name}")
    upgrade_schema(engine)
    engine.dispose()
    yield name
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta' / 'sluice.db'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"sluice_t_{_worker()}_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield f"{PG_URL_BASE}/{name}"
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the migrated metadata store of `database_url` (both databases)."""
    engine = make_engine(database_url)
    upgrade_schema(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> Tenant:
    """A fresh org's `prod` sandbox, written straight to the store."""
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Engine Org")
        sandbox = tenants.find_sandbox(session, org.id, "prod")
        assert sandbox is not None
        return Tenant(org.id, sandbox.id, "prod", "engine-tests")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_keys=Fernet.generate_key().decode(),
        token_signing_key="test-signing-key-" + uuid.uuid4().hex,
        local_file_roots=str(files),
    )


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def caller(app_client: TestClient, settings: Settings) -> Caller:
    return make_caller(app_client, settings, "Org A")


@pytest.fixture
def other_caller(app_client: TestClient, settings: Settings) -> Caller:
    return make_caller(app_client, settings, "Org B")


@pytest.fixture(scope="session")
def s3() -> S3Server:
    """The S3-compatible server (moto, on loopback); each test makes its own buckets."""
    from support.s3_server import s3_server

    return s3_server()


@pytest.fixture(scope="session")
def azurite() -> Azurite:
    """The Azure Blob Storage emulator (Azurite, on loopback); each test makes its own
    containers."""
    from support.azurite import azurite as started_azurite

    return started_azurite()
