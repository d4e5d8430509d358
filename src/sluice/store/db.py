"""Engine and session factory, and schema upgrade through Alembic on start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain import json_codec

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys hold our invariants; WAL lets the API read while a worker writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_deserializer=json_codec.loads,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip per checkout, a sixth of a POST /runs. A pooled
    # connection that died (a server restart) fails the one statement that uses it; SQLAlchemy
    # sees the disconnect and invalidates the whole pool, so the next checkouts connect
    # afresh. Recycling bounds a connection's age under idle-timeout proxies.
    # Documents are read with orjson (the same values as `json.loads`, a page of runs decodes
    # in half the time); they are still written by `json`.
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        json_deserializer=json_codec.loads,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for routes that only read: on PostgreSQL their statements run in autocommit,
    which spares each request the BEGIN and the COMMIT round trip. At READ COMMITTED
    (PostgreSQL's default; Sluice sets no other) every statement of a transaction takes its
    own snapshot anyway, so a read sees what it would have seen inside one. On SQLite,
    pysqlite begins no transaction before a SELECT anyway, and switching its isolation
    level would cost a PRAGMA at each checkout: the plain sessions serve."""
    if engine.dialect.name != "postgresql":
        return make_session_factory(engine)
    return make_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe to run on every start."""
    command.upgrade(alembic_config(engine), "head")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session


def dialect_insert(session: Session) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


@contextmanager
def write_transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that holds the write lock from its first statement.

    On SQLite, `BEGIN IMMEDIATE` makes concurrent writers queue on the busy timeout; a
    deferred transaction that read first could instead fail to upgrade its snapshot
    ("database is locked"). PostgreSQL needs nothing special: row locks do the work.
    """
    with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session
