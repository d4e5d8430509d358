"""The MySQL connection spec against the real MariaDB: its test, its explorer and the hosts it
refuses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, ExploreError
from sluice.connectors.host_guard import HostRefusedError
from sluice.connectors.mysql.connection_spec import BASIC_AUTH, CONNECTION_STRING_AUTH
from sluice.connectors.mysql.spec import CONNECTOR, SPEC, SYSTEM_DATABASES
from sluice.connectors.registry import find_spec
from support.connector_reads import secret_free_failure
from support.mariadb import (
    FAKE_PASSWORD,
    MY_DATABASE,
    MY_HOST,
    MY_PORT,
    MY_USER,
    MariaTables,
    my_auth,
    my_execute,
    quoted,
)
from support.net import closed_port

ESCAPED_PASSWORD = "Fake-Pa55%3Aw%40rd%2FMySQL%3F%23"


@pytest.fixture
def tables() -> Iterator[MariaTables]:
    made = MariaTables()
    yield made
    made.drop_all()


def uri(password: str = "", port: int = MY_PORT, options: str = "") -> str:
    secret = f":{password}" if password else ""
    return f"mysql://{MY_USER}{secret}@{MY_HOST}:{port}/{MY_DATABASE}{options}"


def failure_of(context: ConnectorContext, params: dict[str, Any]) -> str:
    return secret_free_failure(CONNECTOR, context, params, FAKE_PASSWORD, "Fake-Pa55")


def test_the_spec_is_registered_with_its_schemas() -> None:
    assert find_spec(SPEC.id) is SPEC
    assert SPEC.source_kind == "table" and SPEC.category == "database"
    assert BASIC_AUTH.secret_fields == {"password"}
    assert CONNECTION_STRING_AUTH.secret_fields == {"connectionString"}
    basic = Draft7Validator(BASIC_AUTH.schema)
    assert basic.is_valid({"host": "h", "database": "d", "username": "u", "sslMode": "REQUIRED"})
    assert not basic.is_valid({"host": "h", "database": "d", "username": "u", "sslMode": "on"})
    assert not basic.is_valid({"host": "h", "username": "u"})
    tables = Draft7Validator(SPEC.params_schema)
    assert tables.is_valid({"tableName": "shop.orders"})
    assert tables.is_valid({"tableName": "we`ird 'name\""})
    assert not tables.is_valid({"tableName": "a.b.c"})


def test_basic_auth_connects(context: ConnectorContext) -> None:
    CONNECTOR.test(context, my_auth())
    assert "Access denied" in failure_of(context, my_auth(password=FAKE_PASSWORD))


def test_connection_string_connects(context: ConnectorContext) -> None:
    CONNECTOR.test(context, {"connectionString": uri()})
    CONNECTOR.test(context, {"connectionString": uri(options="?ssl-mode=preferred")})
    assert "Access denied" in failure_of(context,
                                         {"connectionString": uri(password=ESCAPED_PASSWORD)})


def test_ssl_disabled_connects_and_required_is_refused_by_a_plain_server(
    context: ConnectorContext,
) -> None:
    CONNECTOR.test(context, my_auth(sslMode="DISABLED"))
    message = failure_of(context, my_auth(sslMode="REQUIRED", password=FAKE_PASSWORD))
    assert "Could not connect to MySQL" in message


@pytest.mark.parametrize("style", ["basic", "connection string"])
def test_wrong_password_fails_without_showing_it(context: ConnectorContext, style: str) -> None:
    params = (my_auth(password=FAKE_PASSWORD) if style == "basic"
              else {"connectionString": uri(password=ESCAPED_PASSWORD)})
    message = failure_of(context, params)
    assert "Access denied" in message and "Check the username and password" in message
    assert ESCAPED_PASSWORD not in message


def test_closed_port_fails_with_a_hint(context: ConnectorContext) -> None:
    message = failure_of(context, my_auth(port=closed_port(), password=FAKE_PASSWORD))
    assert "Check the host and port" in message


def test_missing_database_names_it(context: ConnectorContext) -> None:
    message = failure_of(context, my_auth(database="sluice_no_such_db"))
    assert "sluice_no_such_db" in message and "Check the database name" in message


@pytest.mark.parametrize("connection_string", [
    f"mysql://{MY_USER}:{ESCAPED_PASSWORD}@{MY_HOST}:{MY_PORT}/{MY_DATABASE}?socket=/run/x.sock",
    f"mysql://{MY_USER}:{ESCAPED_PASSWORD}@{MY_HOST}:{MY_PORT}/{MY_DATABASE}?ssl-ca=/etc/passwd",
    f"postgresql://{MY_USER}:{ESCAPED_PASSWORD}@{MY_HOST}:{MY_PORT}/{MY_DATABASE}",
    f"mysql://{MY_USER}:{ESCAPED_PASSWORD}@{MY_HOST}:99999/{MY_DATABASE}",
    f"mysql://{MY_USER}:{ESCAPED_PASSWORD}@{MY_HOST}:{MY_PORT}",
])
def test_unsafe_or_malformed_connection_strings_are_refused(
    context: ConnectorContext, connection_string: str
) -> None:
    message = failure_of(context, {"connectionString": connection_string})
    assert ESCAPED_PASSWORD not in message and f"{MY_USER}:" not in message
    with pytest.raises(ConnectionTestFailed):  # refused when the connection is created
        CONNECTOR.validate_auth(context, {"connectionString": connection_string})


def test_socket_paths_are_refused(context: ConnectorContext) -> None:
    message = failure_of(context, my_auth(host="/run/mysqld/mysqld.sock"))
    assert "not a socket path" in message


def test_metadata_address_is_refused_without_connecting(context: ConnectorContext) -> None:
    with pytest.raises(HostRefusedError) as caught:
        CONNECTOR.test(context, my_auth(host="169.254.169.254"))
    assert "metadata" in str(caught.value)


def test_the_services_own_metadata_database_is_refused(tmp_path: Path) -> None:
    own = ConnectorContext(
        allowed_file_roots=(), lake_dir=tmp_path,
        metadata_database_url=f"mysql+pymysql://{MY_USER}@{MY_HOST}:{MY_PORT}/{MY_DATABASE}")
    with pytest.raises(HostRefusedError) as caught:
        CONNECTOR.test(own, my_auth())
    assert "metadata database" in str(caught.value)
    with pytest.raises(HostRefusedError):
        CONNECTOR.explore(own, my_auth(), "root", None)
    # Another database of the same server is not the metadata database.
    CONNECTOR.test(own, my_auth(database="mysql"))


def test_operator_allowed_hosts_pass_the_guard(tmp_path: Path) -> None:
    own = ConnectorContext(
        allowed_file_roots=(), lake_dir=tmp_path, allowed_hosts=("127.0.0.1",),
        metadata_database_url=f"mysql+pymysql://{MY_USER}@{MY_HOST}:{MY_PORT}/{MY_DATABASE}")
    CONNECTOR.test(own, my_auth())
    with pytest.raises(HostRefusedError, match="metadata database"):  # without the allow list
        CONNECTOR.test(replace(own, allowed_hosts=()), my_auth())


def test_root_lists_the_users_databases(context: ConnectorContext, tables: MariaTables) -> None:
    database = tables.database()
    items = CONNECTOR.explore(context, my_auth(), "root", None)
    names = [item.name for item in items]
    assert MY_DATABASE in names and database in names
    assert not set(names) & set(SYSTEM_DATABASES)
    assert all(item.type == "schema" and item.path == item.name for item in items)


def test_a_database_lists_its_tables_and_views(context: ConnectorContext,
                                               tables: MariaTables) -> None:
    database = tables.database()
    tables.table("id int", name="orders", database=database)
    my_execute(f"CREATE VIEW {quoted(database)}.`recent` AS SELECT id FROM"
               f" {quoted(database)}.`orders`")
    items = CONNECTOR.explore(context, my_auth(), "schema", database)
    assert [(item.type, item.name, item.path) for item in items] == [
        ("table", "orders", f"{database}.orders"), ("table", "recent", f"{database}.recent")]
    assert all(item.can_preview and item.can_fetch_schema for item in items)


def test_unknown_places_are_explore_errors(context: ConnectorContext) -> None:
    with pytest.raises(ExploreError) as missing:
        CONNECTOR.explore(context, my_auth(), "schema", "sluice_no_such_db")
    assert missing.value.code == "CONNECTOR-1001-400"
    assert "sluice_no_such_db" in missing.value.message
    with pytest.raises(ExploreError):
        CONNECTOR.explore(context, my_auth(), "folder", "x")


def test_listing_with_a_wrong_password_fails_without_showing_it(
    context: ConnectorContext,
) -> None:
    with pytest.raises(ConnectionTestFailed) as caught:
        CONNECTOR.explore(context, my_auth(password=FAKE_PASSWORD), "root", None)
    assert "Access denied" in str(caught.value) and "Fake-Pa55" not in str(caught.value)
