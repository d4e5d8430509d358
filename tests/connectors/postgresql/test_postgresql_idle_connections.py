"""Source connections kept for the next read: reused only when clean and alive."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.postgresql import connection as pg_connection
from sluice.connectors.postgresql.connection import IdleConnections
from sluice.connectors.postgresql.reader import open_source
from sluice.connectors.reading import ReadRequest
from support.connector_reads import (
    PG_DATABASE,
    PG_HOST,
    PG_PORT,
    PG_USER,
    pg_execute,
    read_all,
)

MakeTable = Callable[..., str]
CONTEXT = ConnectorContext(
    allowed_file_roots=(), lake_dir=Path("unused-lake"), metadata_database_url="sqlite:///x.db"
)


class FakeConnection:
    def __init__(self, alive: bool = True) -> None:
        self.alive = alive
        self.closed = False

    def cursor(self) -> FakeConnection:
        return self

    def execute(self, sql: str) -> None:
        if not self.alive:
            raise OSError("server closed the connection")

    def fetchone(self) -> tuple[int]:
        return (1,)

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A fresh pool for the test, and every connection the driver opened."""
    monkeypatch.setattr(pg_connection, "IDLE_CONNECTIONS", IdleConnections())
    opened: list[Any] = []
    real_connect = pg_connection.adbc_pg.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        opened.append(real_connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(pg_connection.adbc_pg, "connect", connect)
    return opened


def app_auth(app: str) -> dict[str, Any]:
    return {"connectionString": f"host={PG_HOST} port={PG_PORT} dbname={PG_DATABASE}"
                                f" user={PG_USER} application_name={app}"}


def read_rows(table: str, auth: dict[str, Any]) -> int:
    source = {"data": {}, "params": {"tableName": table}}
    result, _ = read_all(open_source(CONTEXT, auth, source, ReadRequest(window=None)))
    return result.num_rows


def test_a_second_read_of_the_source_reuses_the_first_ones_connection(
    pg_table: MakeTable, connects: list[Any]
) -> None:
    table = pg_table("id int")
    pg_execute(f'INSERT INTO "{table}" SELECT g FROM generate_series(1, 3) g')
    auth = app_auth(f"re_{uuid.uuid4().hex[:10]}")
    assert read_rows(table, auth) == 3
    assert read_rows(table, auth) == 3
    # Two per read, the read's and its count's (made beside it), both reused by the second.
    assert len(connects) == 2


def test_another_source_gets_a_connection_of_its_own(
    pg_table: MakeTable, connects: list[Any]
) -> None:
    table = pg_table("id int")
    read_rows(table, app_auth(f"a_{uuid.uuid4().hex[:10]}"))
    read_rows(table, app_auth(f"b_{uuid.uuid4().hex[:10]}"))
    assert len(connects) == 4  # the read's and its count's, per source


def test_a_dead_idle_connection_is_replaced(pg_table: MakeTable, connects: list[Any]) -> None:
    table = pg_table("id int")
    pg_execute(f'INSERT INTO "{table}" VALUES (1)')
    app = f"dead_{uuid.uuid4().hex[:10]}"
    read_rows(table, app_auth(app))
    pg_execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
               " WHERE application_name = %s", (app,))
    assert read_rows(table, app_auth(app)) == 1
    assert len(connects) == 4  # both of the first read's were dead, and replaced


def test_idle_connections_expire_and_are_closed() -> None:
    pool = IdleConnections(max_idle_seconds=0.0)
    kept = FakeConnection()
    pool.give_back("source", kept)
    assert pool.take("source") is None
    assert kept.closed


def test_at_most_per_source_connections_are_kept() -> None:
    pool = IdleConnections(per_source=1)
    first, second = FakeConnection(), FakeConnection()
    pool.give_back("source", first)
    pool.give_back("source", second)
    assert second.closed and not first.closed
    assert pool.take("source") is first
    assert pool.take("source") is None


def test_a_connection_that_fails_its_check_is_closed_not_handed_out() -> None:
    pool = IdleConnections()
    dead, alive = FakeConnection(alive=False), FakeConnection()
    pool.give_back("source", alive)
    pool.give_back("source", dead)
    assert pool.take("source") is alive
    assert dead.closed


def test_close_all_closes_every_idle_connection() -> None:
    pool = IdleConnections()
    connections = [FakeConnection(), FakeConnection(), FakeConnection()]
    for index, connection in enumerate(connections):
        pool.give_back(f"source-{index % 2}", connection)
    pool.close_all()
    assert all(connection.closed for connection in connections)
    assert pool.take("source-0") is None


def test_a_session_whose_rollback_failed_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = IdleConnections()
    monkeypatch.setattr(pg_connection, "IDLE_CONNECTIONS", pool)
    broken = FakeConnection()

    def fail() -> None:
        raise OSError("connection lost")

    broken.rollback = fail  # type: ignore[method-assign]
    session = object.__new__(pg_connection.AdbcSession)
    session.connection, session._conninfo = broken, "source"
    session.close()
    assert broken.closed
    assert pool.take("source") is None
