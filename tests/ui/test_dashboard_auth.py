"""Dashboard login: the API client's credentials, a strict session cookie, logout, expiry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from ui_support import FS, ORIGIN, csrf_in, login, post_form

from sluice.api.app import create_app
from sluice.config import Settings
from sluice.security.tokens import TokenSigner
from sluice.store import tenants
from sluice.ui.sessions import SESSION_AUDIENCE, SESSION_COOKIE
from support.callers import Caller
from support.metadata_db import metadata_transaction

PAGES = ["/ui/flows", "/ui/datasets", "/ui/connections", "/ui/flows/x", "/ui/runs/x",
         "/ui/datasets/x"]


def session_cookie_header(response: object) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return next(h for h in headers if h.startswith(f"{SESSION_COOKIE}="))


def test_login_with_client_credentials_sets_a_strict_http_only_session_cookie(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    form = app_client.get("/ui/login")
    assert form.status_code == 200
    assert 'type="password"' in form.text and caller.client_secret not in form.text
    response = app_client.post(
        "/ui/login",
        data={"csrf_token": csrf_in(form.text), "client_id": caller.client_id,
              "client_secret": caller.client_secret, "next": "/ui/datasets"},
        headers={"Origin": ORIGIN}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/datasets"
    cookie = session_cookie_header(response)
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in flags
    assert flags["samesite"].lower() == "samesite=strict"
    assert flags["path"] == "Path=/ui"
    assert flags["max-age"] == f"Max-Age={settings.token_ttl_seconds}"
    assert "secure" not in flags  # plain http here; see the https test
    page = app_client.get("/ui/flows")
    assert page.status_code == 200
    assert caller.client_id in page.text and caller.client_secret not in page.text


def test_session_cookie_is_secure_when_served_over_https(settings: Settings) -> None:
    with TestClient(create_app(settings), base_url="https://testserver") as https:
        with metadata_transaction(settings) as session:
            org = tenants.create_org(session, "Secure org")
            issued = tenants.create_client(session, org.id, "secure client")
        form = https.get("/ui/login")
        response = https.post(
            "/ui/login",
            data={"csrf_token": csrf_in(form.text), "client_id": issued.client_id,
                  "client_secret": issued.client_secret},
            headers={"Origin": "https://testserver"}, follow_redirects=False)
        assert response.status_code == 303
        assert "secure" in session_cookie_header(response).lower().split("; ")


def test_wrong_secret_or_unknown_client_is_refused_without_a_session(
    app_client: TestClient, caller: Caller
) -> None:
    for client_id, secret in ((caller.client_id, "wrong"), ("sluice-nobody", "x"), ("", "")):
        form = app_client.get("/ui/login")
        response = app_client.post(
            "/ui/login",
            data={"csrf_token": csrf_in(form.text), "client_id": client_id,
                  "client_secret": secret},
            headers={"Origin": ORIGIN}, follow_redirects=False)
        assert response.status_code == 401
        assert "wrong secret" in response.text
        assert not any(h.startswith(SESSION_COOKIE)
                       for h in response.headers.get_list("set-cookie"))
    assert app_client.get("/ui/flows", follow_redirects=False).status_code == 303


def test_login_form_needs_its_token_and_the_dashboards_origin(
    app_client: TestClient, caller: Caller
) -> None:
    token = csrf_in(app_client.get("/ui/login").text)
    body = {"client_id": caller.client_id, "client_secret": caller.client_secret}
    for extra, headers in (
        ({}, {"Origin": ORIGIN}),  # no token
        ({"csrf_token": "forged"}, {"Origin": ORIGIN}),
        ({"csrf_token": token}, {"Origin": "https://evil.example"}),
        ({"csrf_token": token}, {}),  # neither Origin nor Referer
    ):
        response = app_client.post("/ui/login", data={**body, **extra}, headers=headers,
                                   follow_redirects=False)
        assert response.status_code == 403
        assert not any(h.startswith(SESSION_COOKIE)
                       for h in response.headers.get_list("set-cookie"))


def test_pages_redirect_to_login_and_live_data_answers_401_without_a_session(
    app_client: TestClient,
) -> None:
    for path in PAGES:
        response = app_client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/ui/login?next=")
    assert app_client.get("/ui", follow_redirects=False).headers["location"] == "/ui/flows"
    live = app_client.get("/ui/live/flows")
    assert live.status_code == 401 and live.json()["login"] == "/ui/login"
    posted = app_client.post("/ui/flows/x/state", data={"op": "disable"},
                             headers={"Origin": ORIGIN}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/ui/login"


def test_after_login_the_user_lands_where_they_were_going_but_never_off_site(
    app_client: TestClient, caller: Caller
) -> None:
    redirected = app_client.get("/ui/datasets", follow_redirects=False)
    form = app_client.get(redirected.headers["location"])
    assert 'name="next" value="/ui/datasets"' in form.text
    for target, expected in (("https://evil.example/x", "/ui/flows"),
                             ("//evil.example", "/ui/flows"),
                             ("/ui/connections", "/ui/connections")):
        response = app_client.post(
            "/ui/login",
            data={"csrf_token": csrf_in(app_client.get("/ui/login").text),
                  "client_id": caller.client_id, "client_secret": caller.client_secret,
                  "next": target},
            headers={"Origin": ORIGIN}, follow_redirects=False)
        assert response.headers["location"] == expected
        app_client.cookies.clear()


@pytest.fixture
def signer(settings: Settings) -> Iterator[TokenSigner]:
    assert settings.token_signing_key
    yield TokenSigner(settings.token_signing_key, settings.token_ttl_seconds)


def test_forged_expired_or_api_tokens_are_not_sessions(
    app_client: TestClient, caller: Caller, settings: Settings, signer: TokenSigner
) -> None:
    expired = TokenSigner(settings.token_signing_key or "", -60).issue(
        caller.org_id, caller.client_id, audience=SESSION_AUDIENCE)
    forged = TokenSigner("another-key-" + "x" * 32, 3600).issue(
        caller.org_id, caller.client_id, audience=SESSION_AUDIENCE)
    for value in (expired, forged, caller.token, "garbage"):
        app_client.cookies.set(SESSION_COOKIE, value, path="/ui")
        assert app_client.get("/ui/flows", follow_redirects=False).status_code == 303
        app_client.cookies.clear()
    # Signed with the right key but never opened by a login: no stored session, no entry.
    unopened = signer.issue(caller.org_id, caller.client_id, audience=SESSION_AUDIENCE)
    app_client.cookies.set(SESSION_COOKIE, unopened, path="/ui")
    assert app_client.get("/ui/flows", follow_redirects=False).status_code == 303
    app_client.cookies.clear()
    login(app_client, caller)
    assert app_client.get("/ui/flows", follow_redirects=False).status_code == 200


def test_a_session_cookie_is_not_an_api_bearer_token(
    app_client: TestClient, caller: Caller
) -> None:
    login(app_client, caller)
    session = app_client.cookies.get(SESSION_COOKIE)
    assert session
    response = caller.get(f"{FS}/flows", headers={"Authorization": f"Bearer {session}"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "401013"


def test_logout_ends_the_session(app_client: TestClient, caller: Caller) -> None:
    csrf = login(app_client, caller)
    refused = post_form(app_client, "/ui/logout", None)
    assert refused.status_code == 403
    response = post_form(app_client, "/ui/logout", csrf)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert any(h.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in h
               for h in response.headers.get_list("set-cookie"))
    assert app_client.get("/ui/flows", follow_redirects=False).status_code == 303


def test_disabling_the_client_ends_its_sessions(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    login(app_client, caller)
    with metadata_transaction(settings) as session:
        tenants.set_client_enabled(session, caller.client_id, False)
    assert app_client.get("/ui/flows", follow_redirects=False).status_code == 303


def test_dashboard_responses_carry_a_strict_content_security_policy(
    app_client: TestClient, caller: Caller
) -> None:
    login(app_client, caller)
    for path in ("/ui/login", "/ui/flows", "/ui/static/dashboard.css", "/ui/live/flows"):
        response = app_client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    page = app_client.get("/ui/flows")
    assert page.headers["cache-control"] == "no-store"
    # No inline script or style, and nothing from another host.
    assert "<script>" not in page.text and "style=" not in page.text
    assert "http://" not in page.text and "https://" not in page.text


def test_a_copy_of_the_cookie_stops_working_after_logout_on_every_api_process(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    csrf = login(app_client, caller)
    copied = app_client.cookies.get(SESSION_COOKIE)
    assert copied
    # A second API process over the same metadata database accepts the session...
    with TestClient(create_app(settings)) as other_process:
        other_process.cookies.set(SESSION_COOKIE, copied, path="/ui")
        assert other_process.get("/ui/flows", follow_redirects=False).status_code == 200
        assert post_form(app_client, "/ui/logout", csrf).status_code == 303
        # ...and refuses it as soon as the first one logged it out.
        assert other_process.get("/ui/flows", follow_redirects=False).status_code == 303
    app_client.cookies.set(SESSION_COOKIE, copied, path="/ui")
    assert app_client.get("/ui/flows", follow_redirects=False).status_code == 303


def test_a_new_client_secret_ends_the_sessions_opened_with_the_old_one(
    app_client: TestClient, caller: Caller, settings: Settings
) -> None:
    login(app_client, caller)
    assert app_client.get("/ui/flows", follow_redirects=False).status_code == 200
    with metadata_transaction(settings) as session:
        issued = tenants.rotate_client_secret(session, caller.client_id)
    with metadata_transaction(settings) as session:
        assert tenants.authenticate_client(session, caller.client_id, caller.client_secret) is None
        assert tenants.authenticate_client(session, caller.client_id, issued.client_secret)
    assert app_client.get("/ui/flows", follow_redirects=False).status_code == 303
