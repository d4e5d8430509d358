"""The "SQL Database (SQLAlchemy)" spec against real PostgreSQL, MariaDB and SQLite: its test
verdicts, the URL allow list, the host guard and its explorer."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from jsonschema import Draft7Validator
from sqlalchemy.engine import make_url

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, ExploreError
from sluice.connectors.host_guard import HostRefusedError
from sluice.connectors.registry import find_spec
from sluice.connectors.sql_database.connection_spec import URL_AUTH
from sluice.connectors.sql_database.spec import CONNECTOR, SPEC
from support.connector_reads import secret_free_failure
from support.mariadb import FAKE_PASSWORD, MY_DATABASE, MariaTables, my_url
from support.net import closed_port

PG_HOST = os.environ.get("SLUICE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SLUICE_TEST_PG_PORT", "5432"))
PG_URL = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test"
ESCAPED_PASSWORD = "Fake-Pa55%3Aw%40rd%2FMySQL%3F%23"


def failure_of(context: ConnectorContext, url: str) -> str:
    return secret_free_failure(CONNECTOR, context, {"url": url}, "Fake-Pa55", ESCAPED_PASSWORD)


@pytest.fixture
def sqlite_file(allowed_root: Path) -> Path:
    path = allowed_root / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER)")
        connection.execute("CREATE VIEW big_orders AS SELECT id FROM orders WHERE id > 10")
    connection.close()
    return path


@pytest.fixture
def pg_schema() -> Iterator[str]:
    schema = f"sa_spec_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname=test",
                         autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
        connection.execute(f'CREATE TABLE "{schema}".orders (id int)')  # type: ignore[arg-type]
    yield schema
    with psycopg.connect(f"host={PG_HOST} port={PG_PORT} user=postgres dbname=test",
                         autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def test_the_spec_is_registered_with_its_schema() -> None:
    assert find_spec(SPEC.id) is SPEC
    assert SPEC.source_kind == "table" and SPEC.category == "database"
    assert URL_AUTH.secret_fields == {"url"}
    assert Draft7Validator(URL_AUTH.schema).is_valid({"url": PG_URL})
    assert not Draft7Validator(URL_AUTH.schema).is_valid({"url": PG_URL, "host": "x"})


@pytest.mark.parametrize("url", [PG_URL, my_url("mysql+pymysql"), my_url("mariadb+pymysql"),
                                 f"{PG_URL}?sslmode=disable&application_name=sluice",
                                 my_url() + "?charset=utf8mb4"])
def test_allowed_drivers_connect(context: ConnectorContext, url: str) -> None:
    CONNECTOR.test(context, {"url": url})
    missing = make_url(url).set(database="sluice_no_such_db")
    assert "Check the database name" in failure_of(
        context, missing.render_as_string(hide_password=False))


def test_a_sqlite_file_inside_the_allowed_folders_connects(
    context: ConnectorContext, sqlite_file: Path, tmp_path: Path
) -> None:
    CONNECTOR.test(context, {"url": f"sqlite:///{sqlite_file}"})
    outside = tmp_path / sqlite_file.name  # the same name, outside the allowed folders
    sqlite3.connect(outside).close()
    assert "outside the folders" in failure_of(context, f"sqlite:///{outside}")


def test_wrong_password_fails_without_showing_it(context: ConnectorContext) -> None:
    message = failure_of(context, my_url(password=FAKE_PASSWORD))
    assert "Access denied" in message and "Check the username and password" in message


@pytest.mark.parametrize("driver", ["postgresql+psycopg", "mysql+pymysql"])
def test_closed_port_fails_with_a_hint(context: ConnectorContext, driver: str) -> None:
    message = failure_of(context, f"{driver}://u:{ESCAPED_PASSWORD}@127.0.0.1:{closed_port()}/x")
    assert "Check the host and port" in message


def test_missing_database_fails(context: ConnectorContext) -> None:
    message = failure_of(context, my_url(database="sluice_no_such_db"))
    assert "sluice_no_such_db" in message and "Check the database name" in message


@pytest.mark.parametrize("url", [
    f"mssql+pyodbc://sa:{ESCAPED_PASSWORD}@db.example.com/sales",
    f"postgresql://postgres:{ESCAPED_PASSWORD}@127.0.0.1/test",  # the driver must be named
    f"postgresql+psycopg2://postgres:{ESCAPED_PASSWORD}@127.0.0.1/test",
    f"oracle+oracledb://scott:{ESCAPED_PASSWORD}@db.example.com/orcl",
])
def test_drivers_off_the_allow_list_are_refused(context: ConnectorContext, url: str) -> None:
    message = failure_of(context, url)
    assert "is not allowed" in message and "postgresql+psycopg" in message
    with pytest.raises(ConnectionTestFailed):
        CONNECTOR.validate_auth(context, {"url": url})


@pytest.mark.parametrize("url", [
    f"postgresql+psycopg://postgres:{ESCAPED_PASSWORD}@127.0.0.1/test?passfile=/etc/passwd",
    f"postgresql+psycopg://postgres:{ESCAPED_PASSWORD}@127.0.0.1/test?sslkey=/etc/ssl/k.pem",
    "postgresql+psycopg://postgres@/test?host=/var/run/postgresql",
    f"mysql+pymysql://root:{ESCAPED_PASSWORD}@127.0.0.1/test?read_default_file=/etc/my.cnf",
    f"mysql+pymysql://root:{ESCAPED_PASSWORD}@127.0.0.1/test?unix_socket=/run/mysqld.sock",
    f"mysql+pymysql://root:{ESCAPED_PASSWORD}@127.0.0.1/test?local_infile=1",
])
def test_options_that_reach_server_files_are_refused(context: ConnectorContext,
                                                     url: str) -> None:
    message = failure_of(context, url)
    assert "does not accept" in message or "not a socket path" in message


def test_sqlite_outside_the_allowed_folders_is_refused(context: ConnectorContext,
                                                       tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.db"
    sqlite3.connect(outside).close()
    assert "outside the folders" in failure_of(context, f"sqlite:///{outside}")
    assert "outside the folders" in failure_of(context, "sqlite:////etc/passwd")
    assert "database file" in failure_of(context, "sqlite://")
    assert "does not accept" in failure_of(context, f"sqlite:///{outside}?mode=rwc")


def test_sqlite_is_opened_read_only(context: ConnectorContext, allowed_root: Path) -> None:
    missing = allowed_root / "not_there.db"
    assert "does not exist" in failure_of(context, f"sqlite:///{missing}")
    assert not missing.exists()  # never created by a test


def test_the_services_own_sqlite_metadata_file_is_refused(allowed_root: Path) -> None:
    own_file = allowed_root / "sluice.db"
    sqlite3.connect(own_file).close()
    own = ConnectorContext(allowed_file_roots=(allowed_root,), lake_dir=allowed_root,
                           metadata_database_url=f"sqlite:///{own_file}")
    with pytest.raises(HostRefusedError):
        CONNECTOR.test(own, {"url": f"sqlite:///{own_file}"})


def test_metadata_address_is_refused_without_connecting(context: ConnectorContext) -> None:
    with pytest.raises(HostRefusedError) as caught:
        CONNECTOR.test(context, {"url": f"mysql+pymysql://u:{ESCAPED_PASSWORD}@169.254.169.254/x"})
    assert "metadata" in str(caught.value) and "Fake-Pa55" not in str(caught.value)


def test_the_services_own_metadata_database_is_refused(tmp_path: Path) -> None:
    own = ConnectorContext(allowed_file_roots=(), lake_dir=tmp_path,
                           metadata_database_url=PG_URL)
    with pytest.raises(HostRefusedError) as caught:
        CONNECTOR.test(own, {"url": PG_URL})
    assert "metadata database" in str(caught.value)
    with pytest.raises(HostRefusedError):  # the same server through another name
        CONNECTOR.test(own, {"url": f"postgresql+psycopg://postgres@localhost:{PG_PORT}/test"})
    CONNECTOR.test(own, {"url": f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"})


def test_an_invalid_url_is_refused_without_echoing_it(context: ConnectorContext) -> None:
    message = failure_of(context, f"not a url {ESCAPED_PASSWORD}")
    assert "not a valid SQLAlchemy URL" in message


def test_postgresql_lists_schemas_then_tables(context: ConnectorContext, pg_schema: str) -> None:
    auth = {"url": PG_URL}
    schemas = CONNECTOR.explore(context, auth, "root", None)
    names = [item.name for item in schemas]
    assert "public" in names and pg_schema in names and "information_schema" not in names
    assert all(item.type == "schema" for item in schemas)
    tables = CONNECTOR.explore(context, auth, "schema", pg_schema)
    assert [(t.type, t.path) for t in tables] == [("table", f"{pg_schema}.orders")]
    with pytest.raises(ExploreError):
        CONNECTOR.explore(context, auth, "schema", "sluice_no_such_schema")


def test_mysql_lists_databases_then_tables(context: ConnectorContext) -> None:
    made = MariaTables()
    try:
        database = made.database()
        made.table("id int", name="orders", database=database)
        auth = {"url": my_url()}
        names = [item.name for item in CONNECTOR.explore(context, auth, "root", None)]
        assert MY_DATABASE in names and database in names and "mysql" not in names
        tables = CONNECTOR.explore(context, auth, "schema", database)
        assert [t.path for t in tables] == [f"{database}.orders"]
    finally:
        made.drop_all()


def test_sqlite_lists_its_tables_at_the_root(context: ConnectorContext,
                                             sqlite_file: Path) -> None:
    items = CONNECTOR.explore(context, {"url": f"sqlite:///{sqlite_file}"}, "root", None)
    assert [(item.type, item.path) for item in items] == [
        ("table", "big_orders"), ("table", "orders")]


def test_listing_other_object_types_is_an_explore_error(context: ConnectorContext) -> None:
    with pytest.raises(ExploreError):
        CONNECTOR.explore(context, {"url": PG_URL}, "folder", "x")
