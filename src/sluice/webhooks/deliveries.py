"""The delivery queue in the metadata database: claiming due deliveries and recording attempts.

Like runs (DESIGN section 7), a delivery is claimed with a guarded UPDATE that stamps a
fresh token and a lease (`next_attempt_at` moves to the lease's end); the attempt's outcome
is written only while the token still matches. A dispatcher that dies mid-post leaves its
deliveries to become due again when the lease ends: delivered at least once, never lost.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from sluice.store.db import write_transaction
from sluice.store.models import Webhook, WebhookDelivery, WebhookEvent
from sluice.webhooks.outbox import PENDING

DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED)
# The attempt log keeps this many most recent attempts.
MAX_LOGGED_ATTEMPTS = 25

Sessions = sessionmaker[Session]


@dataclass(frozen=True)
class ClaimedDelivery:
    """Everything one attempt needs, read in the claiming transaction."""

    id: str
    token: str
    attempts: int
    webhook_id: str
    url: str
    sealed_secret: bytes
    event_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AttemptResult:
    """How one POST went: a status code, or an error before any response."""

    at_ms: int
    duration_ms: int
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def log_entry(self) -> dict[str, Any]:
        return {
            "at": self.at_ms,
            "statusCode": self.status_code,
            "error": self.error,
            "durationMs": self.duration_ms,
        }


def claim_due(
    sessions: Sessions, *, now_ms: int, lease_ms: int, limit: int
) -> list[ClaimedDelivery]:
    """Take up to `limit` due deliveries of enabled subscriptions, oldest first.

    Prevents two dispatchers posting the same delivery at once: on PostgreSQL the pick
    skips rows another dispatcher has locked, on SQLite claimers are serialized by
    `BEGIN IMMEDIATE`; either way the UPDATE re-checks that each row is still due.
    """
    token = str(uuid.uuid4())
    due = (WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now_ms)
    with write_transaction(sessions) as session:
        pick = (
            select(WebhookDelivery.id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(*due, Webhook.enabled.is_(True))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True, of=WebhookDelivery)
        ids = list(session.scalars(pick))
        if not ids:
            return []
        claimed = list(
            session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), *due)
                .values(claim_token=token, next_attempt_at=now_ms + lease_ms)
                .returning(WebhookDelivery.id)
                .execution_options(synchronize_session=False)
            )
        )
        rows = session.execute(
            select(WebhookDelivery, Webhook, WebhookEvent)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id.in_(claimed))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
            .execution_options(populate_existing=True)
        ).all()
        return [
            ClaimedDelivery(
                id=delivery.id,
                token=token,
                attempts=delivery.attempts,
                webhook_id=hook.id,
                url=hook.url,
                sealed_secret=hook.sealed_secret,
                event_id=event.id,
                event_type=event.event_type,
                payload=dict(event.payload),
            )
            for delivery, hook, event in rows
        ]


def record_attempt(
    sessions: Sessions,
    claimed: ClaimedDelivery,
    result: AttemptResult,
    *,
    retry_at_ms: int | None,
) -> str | None:
    """Write the attempt's outcome; the delivery's new status, or None when the claim was
    lost (its lease ran out and another dispatcher took it: that one records instead).

    A failed attempt with `retry_at_ms` stays pending until then; without it, it is final.
    """
    with write_transaction(sessions) as session:
        log = session.scalar(
            select(WebhookDelivery.attempt_log).where(
                WebhookDelivery.id == claimed.id, WebhookDelivery.claim_token == claimed.token
            )
        )
        if log is None:
            return None
        entries = [*log, result.log_entry()][-MAX_LOGGED_ATTEMPTS:]
        values: dict[str, Any] = {
            "attempts": WebhookDelivery.attempts + 1,
            "attempt_log": entries,
            "last_status_code": result.status_code,
            "last_error": result.error,
            "updated_at": result.at_ms + result.duration_ms,
            "claim_token": None,
        }
        if result.succeeded:
            status = DELIVERED
            values["delivered_at"] = result.at_ms + result.duration_ms
        elif retry_at_ms is not None:
            status = PENDING
            values["next_attempt_at"] = retry_at_ms
        else:
            status = FAILED
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == claimed.id, WebhookDelivery.claim_token == claimed.token)
            .values(status=status, **values)
            .execution_options(synchronize_session=False)
        )
        return status


def prune(sessions: Sessions, *, older_than_ms: int) -> int:
    """Forget finished deliveries, and events left without deliveries, older than the
    retention; pending deliveries are kept whatever their age."""
    with write_transaction(sessions) as session:
        removed = session.execute(
            delete(WebhookDelivery)
            .where(
                WebhookDelivery.status.in_((DELIVERED, FAILED)),
                WebhookDelivery.updated_at < older_than_ms,
            )
            .returning(WebhookDelivery.id)
        ).all()
        session.execute(
            delete(WebhookEvent).where(
                WebhookEvent.created_at < older_than_ms,
                ~select(WebhookDelivery.id)
                .where(WebhookDelivery.event_id == WebhookEvent.id)
                .exists(),
            )
        )
    return len(removed)
