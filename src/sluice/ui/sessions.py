"""The dashboard's session cookie, its CSRF token and the same-origin check.

The session is a token of the API's signer with its own audience (so it is never a valid
bearer token), kept in an `HttpOnly`, `SameSite=Strict` cookie scoped to `/ui`. It names a
row of `dashboard_sessions` (its token id), which every page checks: logout revokes it. Every form
that changes something carries a CSRF token derived from the session (a synchronizer token
that needs no server-side storage: a page from another site can neither read the cookie nor
compute the token), and must come from the dashboard's own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response

from sluice.domain.tenancy import DEFAULT_SANDBOX, is_valid_sandbox_name
from sluice.security.tokens import InvalidTokenError, TokenSigner

SESSION_AUDIENCE = "sluice-ui"
SESSION_COOKIE = "sluice_session"
SANDBOX_COOKIE = "sluice_sandbox"
# The login form has no session yet: a random value in a cookie and in the form (double submit).
LOGIN_CSRF_COOKIE = "sluice_login_csrf"
LOGIN_CSRF_SECONDS = 3600
COOKIE_PATH = "/ui"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class SessionIdentity:
    """Who a valid session cookie says is logged in, and until when."""

    org_id: str
    client_id: str
    expires_at: int
    csrf_token: str
    session_id: str


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of a session: a one-way digest of the (HttpOnly) cookie's value."""
    return hashlib.sha256(b"sluice-ui-csrf\0" + session_token.encode()).hexdigest()


def read_session(request: Request, signer: TokenSigner) -> SessionIdentity | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        claims = signer.verify(token, audience=SESSION_AUDIENCE)
    except InvalidTokenError:
        return None
    return SessionIdentity(
        org_id=claims.org_id,
        client_id=claims.client_id,
        expires_at=claims.expires_at,
        csrf_token=csrf_token_for(token),
        session_id=claims.token_id,
    )


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_is_https(request),
    )


def _delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_is_https(request)
    )


def start_session(
    request: Request,
    response: Response,
    signer: TokenSigner,
    identity: tuple[str, str, str],
) -> None:
    """Set the cookie of session `identity` = (org id, client id, stored session id)."""
    org_id, client_id, session_id = identity
    token = signer.issue(org_id, client_id, audience=SESSION_AUDIENCE, token_id=session_id)
    _set_cookie(request, response, SESSION_COOKIE, token, signer.ttl_seconds)
    _delete_cookie(request, response, LOGIN_CSRF_COOKIE)


def end_session(request: Request, response: Response) -> None:
    _delete_cookie(request, response, SESSION_COOKIE)
    _delete_cookie(request, response, SANDBOX_COOKIE)


def chosen_sandbox(request: Request) -> str:
    name = request.cookies.get(SANDBOX_COOKIE, "")
    return name if is_valid_sandbox_name(name) else DEFAULT_SANDBOX


def remember_sandbox(request: Request, response: Response, name: str, max_age: int) -> None:
    _set_cookie(request, response, SANDBOX_COOKIE, name, max_age)


def login_csrf_token(request: Request) -> str:
    """The login form's token; reused while its cookie lives, so two open tabs both work."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return current if len(current) == 43 else secrets.token_urlsafe(32)


def remember_login_csrf(request: Request, response: Response, token: str) -> None:
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, LOGIN_CSRF_SECONDS)


def login_csrf_matches(request: Request, submitted: str) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected, submitted)


def csrf_matches(identity: SessionIdentity, submitted: str) -> bool:
    return hmac.compare_digest(identity.csrf_token, submitted)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_same_origin(request: Request) -> bool:
    """The request names the dashboard's own origin in `Origin`, or else in `Referer`.

    A request with neither is refused: browsers send `Origin` with every form POST, so only
    a forged or stripped request lacks both."""
    expected = f"{request.url.scheme}://{request.url.netloc}".lower()
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() == expected
    referer = request.headers.get("referer")
    return referer is not None and _origin_of(referer) == expected
