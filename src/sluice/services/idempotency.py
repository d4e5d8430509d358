"""Idempotent creation: a create request sent again with the same `Idempotency-Key` gets the
first answer (same status, body and id) and creates nothing.

A key belongs to the tenant and API client that sent it (org, sandbox, client) and lives
for `KEY_LIFETIME_MS`. The same key with another request (method, path or canonical JSON body)
is refused with FLOW-1490-409. Only answers that created something are stored: a refused
request (4xx) leaves no key behind, so fixing the body and retrying with the key works.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.orm import Session

from sluice.domain.errors import SluiceError, bad_request
from sluice.domain.tenancy import Tenant
from sluice.store import idempotency_keys
from sluice.store.clock import now_ms
from sluice.store.idempotency_keys import KeyTakenError
from sluice.store.idempotency_keys import StoredAnswer as StoredAnswer  # the answers routes replay

KEY_LIFETIME_MS = 24 * 3600 * 1000
MAX_KEY_LENGTH = 255


class IdempotencyKeyReusedError(SluiceError):
    """The key was used before with another request: replaying the first answer would
    answer a question the client did not ask, and creating would break the key's promise."""

    code, status, title = 1490, 409, "Conflict"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"The Idempotency-Key {key!r} was already used with a different request (method, "
            "path or body) in the last 24 hours. Use a new key for a new request.",
        )


class IdempotencyKeyInProgressError(SluiceError):
    """Another request with the key holds it and its answer cannot be read yet."""

    code, status, title = 1491, 409, "Conflict"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"A request with the Idempotency-Key {key!r} is still being processed; retry it "
            "in a moment to get its answer.",
        )


def checked_key(raw: str) -> str:
    """The header's key, or FLOW-1492-400: 1 to 255 visible ASCII characters."""
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise bad_request(
            1492,
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} visible ASCII "
            "characters (a UUID is a good key).",
        )
    return key


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """sha256 of the method, the path and the body as canonical JSON (sorted keys, no
    insignificant spaces), so a retry that reorders fields is still the same request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def earlier_answer(
    session: Session, tenant: Tenant, key: str, fingerprint: str
) -> StoredAnswer | None:
    """The first answer given to this key and request, None if the key is new (or expired);
    IdempotencyKeyReusedError if the key was used for another request."""
    found = idempotency_keys.find(session, tenant, key, now_ms=now_ms())
    if found is not None and found.request_hash != fingerprint:
        raise IdempotencyKeyReusedError(key)
    return found


def remember_answer(
    session: Session, tenant: Tenant, key: str, answer: StoredAnswer
) -> StoredAnswer:
    """Store `answer` in the transaction that created the resource, and return the answer
    the client must get.

    Races "two requests with one key at once": when another transaction stored the key
    first, this one is rolled back (its resource with it) and the winner's answer is
    returned, so the key never creates two resources.
    """
    try:
        idempotency_keys.store(
            session, tenant, key, answer, now_ms=now_ms(), ttl_ms=KEY_LIFETIME_MS
        )
        return answer
    except KeyTakenError:
        session.rollback()
    winner = earlier_answer(session, tenant, key, answer.request_hash)
    if winner is None:  # the winner's key expired or was purged in between: very unlikely
        raise IdempotencyKeyInProgressError(key)
    return winner
