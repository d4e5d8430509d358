"""The PostgreSQL pool has no pre-ping (a round trip per checkout); a server that dropped
every connection costs one failed statement, after which the whole pool reconnects."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from sluice.store.db import make_engine

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _terminate_backends(engine: Engine) -> int:
    """What a PostgreSQL restart does to the pool: every connection to the database dies."""
    database = engine.url.database
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def _select_one(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT 1")).scalar_one())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_dead_pooled_connections_cost_one_failure_then_the_pool_reconnects(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    pings = 0

    def count_ping(_dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return True

    engine.dialect.do_ping = count_ping  # type: ignore[method-assign]
    try:
        held = [engine.connect() for _ in range(3)]  # three pooled connections
        for connection in held:
            connection.execute(text("SELECT 1"))
            connection.close()
        assert _terminate_backends(engine) >= 3
        with pytest.raises(DBAPIError) as failure:
            _select_one(engine)
        assert failure.value.connection_invalidated
        # The disconnect invalidated the whole pool: the other two dead connections are
        # replaced on checkout instead of failing one request each.
        together = [engine.connect() for _ in range(3)]
        for connection in together:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
            connection.close()
        assert pings == 0
    finally:
        engine.dispose()
