"""Connection secrets: encrypted at rest, never in logs, re-encrypted by key rotation."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from sluice.api.app import create_app
from sluice.config import Settings
from sluice.domain.errors import ConfigurationError
from sluice.security.encryption import SecretBox
from sluice.services.key_rotation import rotate_connection_secrets
from sluice.store.db import make_engine, make_session_factory, transaction
from sluice.store.models import Connection

FS = "/data/foundation/flowservice"
SECRET = "pw-Never-Shown-7731"


def _connection_body() -> dict[str, object]:
    return {
        "name": "pg",
        "auth": {"specName": "Basic Authentication", "params": {
            "host": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres",
            "password": SECRET}},
        "connectionSpec": {"id": "1bed8a75-0487-4216-85f5-94ddf2058992"},
    }


def test_secret_is_encrypted_in_the_database_and_absent_from_logs(
    caller, settings: Settings, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.DEBUG)
    created = caller.post(f"{FS}/connections", json=_connection_body()).json()
    caller.get(f"{FS}/connections/{created['id']}/test")
    caller.patch(f"{FS}/connections/{created['id']}", json=[{"op": "replace",
                 "path": "/auth/params/port", "value": "x"}], headers={"If-Match": created["etag"]})
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            dumped = " ".join(str(v) for row in conn.execute(text("SELECT * FROM connections"))
                              for v in row)
    finally:
        engine.dispose()
    assert SECRET not in dumped
    assert SECRET not in caplog.text


def test_rotation_moves_secrets_to_the_new_key(caller, settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    connection_id = caller.post(f"{FS}/connections", json=_connection_body()).json()["id"]
    old_key = settings.secret_keys
    assert old_key
    new_key = Fernet.generate_key().decode()
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        with pytest.raises(ConfigurationError), transaction(sessions) as session:
            rotate_connection_secrets(session, SecretBox((new_key,)))
        with transaction(sessions) as session:
            assert rotate_connection_secrets(session, SecretBox((new_key, old_key))) == 1
        with transaction(sessions) as session:
            sealed = session.scalar(select(Connection.sealed_secrets))
            assert sealed is not None
            assert SecretBox((new_key,)).open(sealed)["password"] == SECRET
    finally:
        engine.dispose()
    rotated = settings.model_copy(update={"secret_keys": new_key})
    with TestClient(create_app(rotated)) as client:
        headers = caller.headers()
        result = client.get(f"{FS}/connections/{connection_id}/test", headers=headers)
        assert result.status_code == 200 and result.json()["result"] is True
