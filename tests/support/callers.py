"""Callers of the HTTP API in tests: an org's API client with a token and the reference's
headers, and reading a coded error off a response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from sluice.config import Settings
from sluice.store import tenants
from sluice.store.db import make_engine, make_session_factory, transaction

TOKEN_PATH = "/ims/token/v3"


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


def error_code(response: Any) -> str:
    """`FLOW-1439-404` from a problem document, or the gateway's error_code."""
    body = response.json()
    if "error_code" in body:
        return str(body["error_code"])
    return str(body["type"]).rsplit("/", 1)[-1]
