"""Re-encrypts every stored connection secret with the newest key (key rotation)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.security.encryption import SecretBox
from sluice.store.models import Connection


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
