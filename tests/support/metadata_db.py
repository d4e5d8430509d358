"""Direct access to a test server's metadata database, for what the API cannot do (create a
sandbox, disable a client) or must not show (stored secrets)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from sluice.config import Settings
from sluice.store.db import make_engine, make_session_factory, transaction


@contextmanager
def metadata_transaction(settings: Settings) -> Iterator[Session]:
    """One transaction on the settings' metadata database, through an engine of its own."""
    engine = make_engine(settings.resolved_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
