"""The token endpoint and the gateway checks in front of every Flow Service route."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from sluice.config import Settings
from sluice.security.tokens import TokenSigner
from sluice.store import tenants
from support.api_bodies import CATALOG, FS, created_id, dataset
from support.callers import TOKEN_PATH, Caller, error_code
from support.metadata_db import metadata_transaction

CONNECTIONS = f"{FS}/connections"

MISSING_TOKEN = {"error_code": "403010", "message": "Oauth token is missing."}
INVALID_TOKEN = {"error_code": "401013", "message": "Oauth token is not valid"}
MISSING_API_KEY = {"error_code": "403000", "message": "Api Key is required"}
INVALID_API_KEY = {"error_code": "403003", "message": "Api Key is invalid"}
MISSING_ORG = {"error_code": "400003", "message": "Missing header"}
WRONG_ORG = {"error_code": "403025", "message": "Profile is not valid"}


def _token_request(client: TestClient, **fields: str) -> Any:
    return client.post(TOKEN_PATH, data=fields)


def _grant(caller: Caller, client_id: str | None = None, secret: str | None = None) -> Any:
    """A client-credentials request, with the caller's own id and secret unless given."""
    return _token_request(
        caller.http,
        grant_type="client_credentials",
        client_id=caller.client_id if client_id is None else client_id,
        client_secret=caller.client_secret if secret is None else secret,
    )


def _without(caller: Caller, header: str) -> dict[str, str]:
    return {k: v for k, v in caller.headers().items() if k.lower() != header.lower()}


def _set_enabled(settings: Settings, client_id: str, enabled: bool) -> None:
    with metadata_transaction(settings) as session:
        tenants.set_client_enabled(session, client_id, enabled)


# --- POST /ims/token/v3 --------------------------------------------------------------------


def test_token_for_the_right_secret(caller: Caller, settings: Settings) -> None:
    response = _grant(caller)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.token_ttl_seconds
    assert response.headers["cache-control"] == "no-store"
    # The new token works on its own, with the client's key and org.
    fresh = caller.get(CONNECTIONS, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert fresh.status_code == 200, fresh.text


def test_token_refused_for_wrong_secret_or_unknown_client(caller: Caller) -> None:
    wrong = _grant(caller, secret=caller.client_secret + "x")
    unknown = _grant(caller, client_id="sluice-nobody")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert "access_token" not in response.json()
        assert caller.client_secret not in response.text
    # The answer does not say which of the two was wrong.
    assert wrong.json() == unknown.json()


def test_token_refused_for_missing_fields(caller: Caller) -> None:
    grant = "client_credentials"
    incomplete = [
        {"grant_type": grant, "client_id": caller.client_id},
        {"grant_type": grant, "client_secret": caller.client_secret},
        {"grant_type": grant, "client_id": "", "client_secret": caller.client_secret},
        {"grant_type": grant, "client_id": caller.client_id, "client_secret": ""},
    ]
    for fields in incomplete:
        response = _token_request(caller.http, **fields)
        assert response.status_code == 400, fields
        assert response.json()["error"] == "invalid_request"
        assert response.json()["error_description"]


def test_token_refused_for_other_grant_types(caller: Caller) -> None:
    credentials = {"client_id": caller.client_id, "client_secret": caller.client_secret}
    for grant in ("password", "authorization_code", "CLIENT_CREDENTIALS"):
        response = _token_request(caller.http, grant_type=grant, **credentials)
        assert response.status_code == 400, grant
        assert response.json()["error"] == "unsupported_grant_type"
    missing = _token_request(caller.http, **credentials)
    assert missing.status_code == 400
    assert missing.json()["error"] in ("invalid_request", "unsupported_grant_type")
    assert "access_token" not in missing.json()


def test_disabled_client_gets_no_token(caller: Caller, settings: Settings) -> None:
    _set_enabled(settings, caller.client_id, False)
    response = _grant(caller)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- gateway errors --------------------------------------------------------------------------


def test_missing_token_is_403010(caller: Caller) -> None:
    for path in (CONNECTIONS, f"{CATALOG}/dataSets", f"{FS}/connectionSpecs"):
        response = caller.http.get(path, headers=_without(caller, "Authorization"))
        assert response.status_code == 403, path
        assert response.json() == MISSING_TOKEN
    blank = caller.get(CONNECTIONS, headers={"Authorization": "   "})
    assert (blank.status_code, blank.json()) == (403, MISSING_TOKEN)


def test_invalid_token_is_401013(caller: Caller) -> None:
    bad = [
        "Bearer not-a-jwt",
        "Bearer " + caller.token + "x",
        "Bearer " + caller.token[:-4],
        f"Basic {caller.token}",
        "Bearer",
        caller.token,
    ]
    for authorization in bad:
        response = caller.get(CONNECTIONS, headers={"Authorization": authorization})
        assert response.status_code == 401, authorization
        assert response.json() == INVALID_TOKEN
    assert (
        caller.get(CONNECTIONS, headers={"Authorization": f"bearer {caller.token}"}).status_code
        == 200
    )


def test_forged_and_expired_tokens_are_401013(caller: Caller, settings: Settings) -> None:
    assert settings.token_signing_key
    forged = TokenSigner("someone-elses-signing-key-" * 2, 3600).issue(
        caller.org_id, caller.client_id
    )
    expired = TokenSigner(settings.token_signing_key, -120).issue(caller.org_id, caller.client_id)
    # Signed with the right key but for a client that does not exist.
    ghost = TokenSigner(settings.token_signing_key, 3600).issue(caller.org_id, "sluice-ghost")
    for token, api_key in (
        (forged, caller.client_id),
        (expired, caller.client_id),
        (ghost, "sluice-ghost"),
    ):
        response = caller.get(
            CONNECTIONS, headers={"Authorization": f"Bearer {token}", "x-api-key": api_key}
        )
        assert response.status_code == 401
        assert response.json() == INVALID_TOKEN
    # The same signer with a positive lifetime is accepted: only the expiry was wrong.
    valid = TokenSigner(settings.token_signing_key, 3600).issue(caller.org_id, caller.client_id)
    assert caller.get(CONNECTIONS, headers={"Authorization": f"Bearer {valid}"}).status_code == 200


def test_api_key_missing_is_403000_and_mismatched_is_403003(
    caller: Caller, other_caller: Caller
) -> None:
    missing = caller.http.get(CONNECTIONS, headers=_without(caller, "x-api-key"))
    assert (missing.status_code, missing.json()) == (403, MISSING_API_KEY)
    empty = caller.get(CONNECTIONS, headers={"x-api-key": ""})
    assert (empty.status_code, empty.json()) == (403, MISSING_API_KEY)
    # Another real client's key does not go with this token.
    for key in (other_caller.client_id, caller.client_id.upper(), "sluice-nobody"):
        response = caller.get(CONNECTIONS, headers={"x-api-key": key})
        assert (response.status_code, response.json()) == (403, INVALID_API_KEY), key


def test_org_header_missing_is_400003_and_mismatched_is_403025(
    caller: Caller, other_caller: Caller
) -> None:
    missing = caller.http.get(CONNECTIONS, headers=_without(caller, "x-gw-ims-org-id"))
    assert (missing.status_code, missing.json()) == (400, MISSING_ORG)
    for org in (other_caller.org_id, caller.org_id.lower(), "nobody@SluiceOrg"):
        response = caller.get(CONNECTIONS, headers={"x-gw-ims-org-id": org})
        assert (response.status_code, response.json()) == (403, WRONG_ORG), org


def test_disabled_client_token_stops_working(caller: Caller, settings: Settings) -> None:
    assert caller.get(CONNECTIONS).status_code == 200
    _set_enabled(settings, caller.client_id, False)
    response = caller.get(CONNECTIONS)
    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    _set_enabled(settings, caller.client_id, True)
    assert caller.get(CONNECTIONS).status_code == 200


def test_unknown_sandbox_is_2101(caller: Caller) -> None:
    for name in ("nope", "PROD", "prod-2"):
        response = caller.get(CONNECTIONS, headers={"x-sandbox-name": name})
        assert response.status_code == 404, name
        assert error_code(response) == "FLOW-2101-404"
        assert response.json()["title"]
        assert response.json()["report"]["request-id"] == response.headers["x-request-id"]
    # No header at all means the default sandbox.
    default = caller.http.get(CONNECTIONS, headers=_without(caller, "x-sandbox-name"))
    assert default.status_code == 200


def test_gateway_checks_come_before_the_body_is_read(caller: Caller) -> None:
    """An anonymous caller learns nothing from body validation: the gateway answers first."""
    anonymous = _without(caller, "Authorization")
    bodies: list[tuple[bytes, str]] = [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"{}", "text/plain"),
    ]
    for content, content_type in bodies:
        for method, path in (("POST", CONNECTIONS), ("PATCH", f"{CONNECTIONS}/some-id")):
            response = caller.http.request(
                method, path, content=content, headers={**anonymous, "content-type": content_type}
            )
            assert (response.status_code, response.json()) == (403, MISSING_TOKEN), (
                method,
                content,
            )
    forged = caller.post(
        f"{CATALOG}/dataSets", json=dataset(), headers={"Authorization": "Bearer forged"}
    )
    assert (forged.status_code, forged.json()) == (401, INVALID_TOKEN)
    assert caller.get(f"{CATALOG}/dataSets?count=true").json() == {"count": 0}
    created_id(caller.post(f"{CATALOG}/dataSets", json=dataset()))
