"""The metadata database as a process opens it: its engine, its session factory, its schema.

The server, the admin commands and the embedded start open it through here, so they never
reach into the store for plumbing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sluice.store.db import (
    make_engine,
    make_read_session_factory,
    make_session_factory,
    upgrade_schema,
)


@dataclass(frozen=True)
class MetadataDatabase:
    engine: Engine
    sessions: sessionmaker[Session]

    def upgrade_schema(self) -> None:
        """Bring the schema to the newest migration; safe on every start."""
        upgrade_schema(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def open_metadata_database(url: str) -> MetadataDatabase:
    """An engine and its sessions; nothing connects until the first use."""
    engine = make_engine(url)
    return MetadataDatabase(engine=engine, sessions=make_session_factory(engine))


def open_read_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for routes that only read (`sluice.store.db.make_read_session_factory`)."""
    return make_read_session_factory(engine)
