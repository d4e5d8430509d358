"""Shared fixtures: a metadata store on SQLite or PostgreSQL, the app, authenticated callers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from sluice.api.app import create_app
from sluice.config import Settings
from sluice.store import tenants
from sluice.store.db import make_engine, make_session_factory, transaction, upgrade_schema

PG_ADMIN_DSN = os.environ.get(
    "SLUICE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL_BASE = os.environ.get("SLUICE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
TOKEN_PATH = "/ims/token/v3"


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


@dataclass
class Caller:
    """An org's API client with a token, sending the reference's headers on every call."""

    http: TestClient
    org_id: str
    client_id: str
    client_secret: str
    token: str
    sandbox: str = "prod"
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self, **overrides: str) -> dict[str, str]:
        base = {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": self.org_id,
            "x-sandbox-name": self.sandbox,
        }
        base.update(self.extra_headers)
        base.update(overrides)
        return base

    def in_sandbox(self, sandbox: str) -> Caller:
        return Caller(
            self.http, self.org_id, self.client_id, self.client_secret, self.token, sandbox
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


def make_caller(client: TestClient, settings: Settings, org_name: str) -> Caller:
    engine = make_engine(settings.resolved_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            org = tenants.create_org(session, org_name)
            issued = tenants.create_client(session, org.id, f"{org_name} client")
    finally:
        engine.dispose()
    response = client.post(
        TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    return Caller(
        client,
        issued.org_id,
        issued.client_id,
        issued.client_secret,
        response.json()["access_token"],
    )


@pytest.fixture
def caller(app_client: TestClient, settings: Settings) -> Caller:
    return make_caller(app_client, settings, "Org A")


@pytest.fixture
def other_caller(app_client: TestClient, settings: Settings) -> Caller:
    return make_caller(app_client, settings, "Org B")


def error_code(response: Any) -> str:
    """`FLOW-1439-404` from a problem document, or the gateway's error_code."""
    body = response.json()
    if "error_code" in body:
        return str(body["error_code"])
    return str(body["type"]).rsplit("/", 1)[-1]
