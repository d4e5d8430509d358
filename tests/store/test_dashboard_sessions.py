"""Dashboard sessions in the metadata database, on both databases: open, check, revoke."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from sluice.store import dashboard_sessions, tenants
from sluice.store.db import transaction
from sluice.store.models import DashboardSession


@pytest.fixture
def client_id(sessions: sessionmaker[Session]) -> str:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Sessions Org")
        return tenants.create_client(session, org.id, "ui").client_id


def _open(sessions: sessionmaker[Session], client_id: str) -> str:
    with transaction(sessions) as session:
        return dashboard_sessions.open_session(session, client_id, 3600)


def _live(sessions: sessionmaker[Session], session_id: str, client_id: str) -> bool:
    with transaction(sessions) as session:
        return dashboard_sessions.is_live(session, session_id, client_id)


def test_logout_revokes_one_session_and_disabling_revokes_all(
    sessions: sessionmaker[Session], client_id: str
) -> None:
    first, second = _open(sessions, client_id), _open(sessions, client_id)
    assert _live(sessions, first, client_id) and _live(sessions, second, client_id)
    assert not _live(sessions, first, "another-client")
    with transaction(sessions) as session:
        dashboard_sessions.revoke(session, first)
    assert not _live(sessions, first, client_id) and _live(sessions, second, client_id)
    with transaction(sessions) as session:
        tenants.set_client_enabled(session, client_id, False)
    assert not _live(sessions, second, client_id)


def test_expired_sessions_are_not_live_and_are_cleared_at_the_next_login(
    sessions: sessionmaker[Session], client_id: str
) -> None:
    old = _open(sessions, client_id)
    with transaction(sessions) as session:
        session.execute(update(DashboardSession).where(DashboardSession.id == old)
                        .values(expires_at=0))
    assert not _live(sessions, old, client_id)
    _open(sessions, client_id)
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(DashboardSession)) == 1
        assert session.get(DashboardSession, old) is None
