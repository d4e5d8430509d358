"""Signed, expiring bearer tokens bound to an org and an API client (JWT, HS256)."""

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


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or not one of ours."""


class TokenSigner:
    def __init__(self, signing_key: str, ttl_seconds: int) -> None:
        self._key = signing_key
        self.ttl_seconds = ttl_seconds

    def issue(self, org_id: str, client_id: str) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": client_id,
            "org": org_id,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._key, algorithm="HS256")

    def verify(self, token: str) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        org, client = payload.get("org"), payload.get("sub")
        if not isinstance(org, str) or not isinstance(client, str):
            raise InvalidTokenError("token lacks org or client")
        return TokenClaims(org_id=org, client_id=client, expires_at=int(payload["exp"]))
