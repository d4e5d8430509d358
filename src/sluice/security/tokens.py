"""Signed, expiring tokens bound to an org and an API client (JWT, HS256).

API bearer tokens carry no audience; other uses (the dashboard's session cookie) name theirs,
and a token is only accepted where its audience is expected, so a session cookie is never a
valid bearer token and the reverse.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

ISSUER = "sluice"


@dataclass(frozen=True)
class TokenClaims:
    org_id: str
    client_id: str
    expires_at: int
    token_id: str = ""


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or not one of ours."""


class TokenSigner:
    def __init__(self, signing_key: str, ttl_seconds: int) -> None:
        self._key = signing_key
        self.ttl_seconds = ttl_seconds

    def issue(
        self,
        org_id: str,
        client_id: str,
        *,
        audience: str | None = None,
        token_id: str | None = None,
    ) -> str:
        now = int(time.time())
        payload: dict[str, str | int] = {
            "iss": ISSUER,
            "sub": client_id,
            "org": org_id,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": token_id or uuid.uuid4().hex,
        }
        if audience is not None:
            payload["aud"] = audience
        return jwt.encode(payload, self._key, algorithm="HS256")

    def verify(self, token: str, *, audience: str | None = None) -> TokenClaims:
        """The claims of a token of ours for `audience` (None: an API bearer token).

        PyJWT refuses a token that names an audience when none is expected, and one that
        lacks the expected audience."""
        required = ["exp", "iat", "sub", "iss"] + (["aud"] if audience is not None else [])
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                audience=audience,
                options={"require": required},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        org, client = payload.get("org"), payload.get("sub")
        if not isinstance(org, str) or not isinstance(client, str):
            raise InvalidTokenError("token lacks org or client")
        token_id = payload.get("jti")
        return TokenClaims(
            org_id=org,
            client_id=client,
            expires_at=int(payload["exp"]),
            token_id=token_id if isinstance(token_id, str) else "",
        )
