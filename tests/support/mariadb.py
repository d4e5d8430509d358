"""The MariaDB test server (127.0.0.1:3306, root without a password, database `test`):
settings, auth params, running SQL, and tables / databases made and dropped per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import pymysql

MY_HOST = os.environ.get("SLUICE_TEST_MYSQL_HOST", "127.0.0.1")
MY_PORT = int(os.environ.get("SLUICE_TEST_MYSQL_PORT", "3306"))
MY_USER = os.environ.get("SLUICE_TEST_MYSQL_USER", "root")
MY_PASSWORD = os.environ.get("SLUICE_TEST_MYSQL_PASSWORD", "")
MY_DATABASE = os.environ.get("SLUICE_TEST_MYSQL_DATABASE", "test")
# Recognizable, so a leak into any message is caught; URL-special characters on purpose.
FAKE_PASSWORD = "Fake-Pa55:w@rd/MySQL?#"


def my_auth(**overrides: Any) -> dict[str, Any]:
    """Basic Authentication params of the test server."""
    return {"host": MY_HOST, "port": MY_PORT, "database": MY_DATABASE, "username": MY_USER,
            "password": MY_PASSWORD, **overrides}


def my_url(driver: str = "mysql+pymysql", database: str = MY_DATABASE,
           port: int = MY_PORT, password: str = MY_PASSWORD) -> str:
    """A SQLAlchemy URL of the test server."""
    return f"{driver}://{MY_USER}:{quote(password, safe='')}@{MY_HOST}:{port}/{database}"


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def my_execute(sql: str, params: Sequence[Any] | None = None, *, many: bool = False,
               database: str = MY_DATABASE, time_zone: str = "+00:00") -> list[tuple[Any, ...]]:
    """Run SQL (in a UTC session unless told otherwise) and return its rows."""
    connection = pymysql.connect(host=MY_HOST, port=MY_PORT, user=MY_USER, password=MY_PASSWORD,
                                 database=database, autocommit=True,
                                 init_command=f"SET time_zone = '{time_zone}'")
    try:
        with connection.cursor() as cursor:
            if many:
                cursor.executemany(sql, params or [])
            else:
                cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def queries_left_on(table: str, polls: int = 100) -> int:
    """How many other sessions still run a query naming `table`, polled until none does (up to
    `polls` times, 0.1 s apart): the server notices a dropped connection when it next writes."""
    running = 1
    for _ in range(polls):
        ((running,),) = my_execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE %s"
            " AND ID <> CONNECTION_ID() AND SLEEP(0.1) = 0", (f"%{table}%",))
        if running == 0:
            break
    return int(running)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class MariaTables:
    """Tables (and databases) made by one test, dropped at its end."""

    def __init__(self) -> None:
        self._tables: list[str] = []
        self._databases: list[str] = []

    def table(self, columns: str, name: str | None = None, database: str = MY_DATABASE) -> str:
        """A new table `<name or my_uuid>` in `database`; its name."""
        table = name or unique_name("my")
        qualified = f"{quoted(database)}.{quoted(table)}"
        my_execute(f"CREATE TABLE {qualified} ({columns})")
        self._tables.append(qualified)
        return table

    def database(self, prefix: str = "mydb") -> str:
        name = unique_name(prefix)
        my_execute(f"CREATE DATABASE {quoted(name)}")
        self._databases.append(name)
        return name

    def drop_all(self) -> None:
        for qualified in self._tables:
            my_execute(f"DROP TABLE IF EXISTS {qualified}")
        for name in self._databases:
            my_execute(f"DROP DATABASE IF EXISTS {quoted(name)}")
