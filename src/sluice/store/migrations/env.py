"""Alembic environment: runs against the engine the caller hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from sluice.store.models import Base

# An arbitrary key of the advisory lock that serializes schema upgrades on PostgreSQL.
MIGRATION_LOCK_KEY = 0x5_1C1CE

config = context.config
engine: Engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # A fleet started at once (API processes, schedulers, workers) would race to
            # build a fresh schema; the first holds this lock until its migrations commit,
            # and the others then find the schema at head and do nothing.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.run_migrations()
    connection.commit()
