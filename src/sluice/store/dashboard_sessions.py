"""Dashboard sessions in the metadata database: opened at login, checked on every page,
revoked by logout, by disabling the client and by a new client secret."""

from __future__ import annotations

import secrets

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from sluice.store.clock import now_ms
from sluice.store.models import DashboardSession


def open_session(session: Session, client_id: str, ttl_seconds: int) -> str:
    """A new session's id (random, unguessable; the signed cookie carries it)."""
    session_id = secrets.token_urlsafe(32)
    now = now_ms()
    # The client's expired sessions go as it opens a new one, so the table stays small.
    session.execute(
        delete(DashboardSession).where(
            DashboardSession.client_id == client_id, DashboardSession.expires_at <= now
        )
    )
    session.add(
        DashboardSession(
            id=session_id, client_id=client_id, created_at=now, expires_at=now + ttl_seconds * 1000
        )
    )
    session.flush()
    return session_id


def is_live(session: Session, session_id: str, client_id: str) -> bool:
    row = session.get(DashboardSession, session_id)
    return (
        row is not None
        and row.client_id == client_id
        and row.revoked_at is None
        and row.expires_at > now_ms()
    )


def revoke(session: Session, session_id: str) -> None:
    session.execute(
        update(DashboardSession)
        .where(DashboardSession.id == session_id, DashboardSession.revoked_at.is_(None))
        .values(revoked_at=now_ms())
    )


def revoke_all_of_client(session: Session, client_id: str) -> int:
    """Every live session of the client (it was disabled, or its secret changed)."""
    result = session.execute(
        update(DashboardSession)
        .where(DashboardSession.client_id == client_id, DashboardSession.revoked_at.is_(None))
        .values(revoked_at=now_ms())
    )
    return int(getattr(result, "rowcount", 0) or 0)
