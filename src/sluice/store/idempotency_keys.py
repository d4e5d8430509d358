"""Idempotency keys in the metadata database: the stored first answer of a create request,
per tenant and API client, kept for a day and purged after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.store.models import IdempotencyKey


@dataclass(frozen=True)
class StoredAnswer:
    """What the first request with a key was answered."""

    request_hash: str
    status_code: int
    body: str
    headers: dict[str, str]


class KeyTakenError(Exception):
    """Another transaction stored an answer under the same key first."""


def find(session: Session, tenant: Tenant, key: str, *, now_ms: int) -> StoredAnswer | None:
    """The live answer stored under `key` for the tenant's client, if any."""
    row = session.execute(
        select(IdempotencyKey).where(*_same_key(tenant, key), IdempotencyKey.expires_at > now_ms)
    ).scalar_one_or_none()
    if row is None:
        return None
    return StoredAnswer(
        row.request_hash, row.status_code, row.response_body, dict(row.response_headers)
    )


def store(
    session: Session,
    tenant: Tenant,
    key: str,
    answer: StoredAnswer,
    *,
    now_ms: int,
    ttl_ms: int,
) -> None:
    """Store the answer in the session's transaction (the one that created the resource).

    Raises KeyTakenError when a concurrent transaction committed the key first: the primary
    key makes the second writer wait for the first and then fail, so the caller rolls its
    whole transaction back (its resource included) and replays the first answer instead.
    """
    # An expired answer under the same key makes room for the new one.
    session.execute(
        delete(IdempotencyKey).where(*_same_key(tenant, key), IdempotencyKey.expires_at <= now_ms)
    )
    session.add(
        IdempotencyKey(
            org_id=tenant.org_id,
            sandbox_id=tenant.sandbox_id,
            client_id=tenant.client_id,
            key=key,
            request_hash=answer.request_hash,
            status_code=answer.status_code,
            response_body=answer.body,
            response_headers=answer.headers,
            created_at=now_ms,
            expires_at=now_ms + ttl_ms,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise KeyTakenError(key) from None


def purge_expired(session: Session, *, now_ms: int) -> int:
    """Delete every expired answer (the scheduler's pass does it); how many went."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now_ms))
    return int(getattr(result, "rowcount", 0) or 0)


def _same_key(tenant: Tenant, key: str) -> tuple[Any, ...]:
    return (
        IdempotencyKey.org_id == tenant.org_id,
        IdempotencyKey.sandbox_id == tenant.sandbox_id,
        IdempotencyKey.client_id == tenant.client_id,
        IdempotencyKey.key == key,
    )
