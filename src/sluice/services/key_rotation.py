"""Re-encrypts every stored secret (connections, webhooks) with the newest key (key rotation)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.security.encryption import SecretBox
from sluice.store.models import Connection, Webhook


def rotate_connection_secrets(session: Session, box: SecretBox) -> int:
    """Seal all secrets again with the first key; afterwards older keys can be dropped.

    Runs in the caller's transaction, so a failure (a secret no key opens) changes nothing.
    """
    rotated = 0
    rows = session.scalars(select(Connection).where(Connection.sealed_secrets.is_not(None)))
    for row in rows:
        assert row.sealed_secrets is not None
        row.sealed_secrets = box.rotate(row.sealed_secrets)
        rotated += 1
    session.flush()
    return rotated


def rotate_webhook_secrets(session: Session, box: SecretBox) -> int:
    """The same for the signing secrets of webhook subscriptions."""
    rotated = 0
    for row in session.scalars(select(Webhook)):
        row.sealed_secret = box.rotate(row.sealed_secret)
        rotated += 1
    session.flush()
    return rotated


def rotate_all_secrets(session: Session, box: SecretBox) -> int:
    """Every sealed secret, in the caller's transaction: all of them or none."""
    return rotate_connection_secrets(session, box) + rotate_webhook_secrets(session, box)
