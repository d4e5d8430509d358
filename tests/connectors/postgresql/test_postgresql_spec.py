"""The PostgreSQL connection test, against the real server (trust auth on 127.0.0.1:5432)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.postgresql.connection import build_conninfo
from sluice.connectors.postgresql.spec import CONNECTOR
from support.connector_reads import secret_free_failure
from support.net import closed_port

HOST = os.environ.get("SLUICE_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("SLUICE_TEST_PG_PORT", "5432"))
USER = os.environ.get("SLUICE_TEST_PG_USER", "postgres")
DATABASE = os.environ.get("SLUICE_TEST_PG_DATABASE", "test")
# Recognizable, so a leak into any message is caught; URL-special characters on purpose.
FAKE_PASSWORD = "Fake-Pa55:w@rd/Sluice"


def basic(**overrides: Any) -> dict[str, Any]:
    return {"host": HOST, "port": PORT, "database": DATABASE, "username": USER,
            "password": FAKE_PASSWORD, "sslMode": "disable", **overrides}


def uri(host: str = HOST, port: int = PORT, database: str = DATABASE) -> str:
    return f"postgresql://{USER}:Fake-Pa55%3Aw%40rd%2FSluice@{host}:{port}/{database}"


def failure_of(context: ConnectorContext, params: dict[str, Any]) -> str:
    # "Fake-Pa55": nor the password's URL-escaped form.
    return secret_free_failure(CONNECTOR, context, params, FAKE_PASSWORD, "Fake-Pa55")


def test_basic_auth_connects(context: ConnectorContext) -> None:
    CONNECTOR.test(context, basic())
    assert "Check the database name" in failure_of(context, basic(database="sluice_no_such_db"))


def test_basic_auth_without_password_or_ssl_mode_connects(context: ConnectorContext) -> None:
    CONNECTOR.test(context, {"host": HOST, "port": PORT, "database": DATABASE, "username": USER})
    assert "Check the host and port" in failure_of(
        context, {"host": HOST, "port": closed_port(), "database": DATABASE, "username": USER})


def test_connection_string_uri_connects(context: ConnectorContext) -> None:
    CONNECTOR.test(context, {"connectionString": uri()})
    assert "sluice_no_such_db" in failure_of(
        context, {"connectionString": uri(database="sluice_no_such_db")})


def test_connection_string_key_value_connects(context: ConnectorContext) -> None:
    CONNECTOR.test(context, {"connectionString":
                          f"host={HOST} port={PORT} dbname={DATABASE} user={USER} password=x"})
    assert "Check the database name" in failure_of(context, {"connectionString":
        f"host={HOST} port={PORT} dbname=sluice_no_such_db user={USER} password=x"})


def test_closed_port_fails_with_a_hint(context: ConnectorContext) -> None:
    message = failure_of(context, basic(port=closed_port()))
    assert "Connection refused" in message
    assert "Check the host and port" in message


def test_closed_port_in_connection_string_hides_the_string(context: ConnectorContext) -> None:
    port = closed_port()
    message = failure_of(context, {"connectionString": uri(port=port)})
    assert "Check the host and port" in message
    assert "%3A" not in message and "postgresql://" not in message


def test_missing_database_names_it(context: ConnectorContext) -> None:
    message = failure_of(context, basic(database="sluice_no_such_db"))
    assert 'database "sluice_no_such_db" does not exist' in message
    assert "Check the database name" in message


def test_missing_database_in_connection_string(context: ConnectorContext) -> None:
    message = failure_of(context, {"connectionString": uri(database="sluice_no_such_db")})
    assert "sluice_no_such_db" in message


def test_unknown_role_fails(context: ConnectorContext) -> None:
    message = failure_of(context, basic(username="sluice_no_such_role"))
    assert "Check the username" in message


def test_ssl_required_by_a_server_without_ssl_points_at_ssl_mode(context: ConnectorContext) -> None:
    message = failure_of(context, basic(sslMode="verify-full"))
    assert "Check sslMode" in message


def test_unresolvable_host_fails(context: ConnectorContext) -> None:
    message = failure_of(context, basic(host="no-such-host.invalid"))
    assert "Check the host name" in message


def test_unparsable_connection_string_does_not_echo_it(context: ConnectorContext) -> None:
    escaped = "Fake-Pa55%3Aw%40rd%2FSluice"
    for broken in (f"postgresql://u:{escaped}@[bad/x", f"host=h password={FAKE_PASSWORD} user"):
        message = failure_of(context, {"connectionString": broken})
        assert "not valid" in message


@pytest.mark.parametrize("setting", ["passfile=/root/.pgpass", "service=prod", "sslkey=/etc/key"])
def test_server_file_settings_are_refused(context: ConnectorContext, setting: str) -> None:
    message = failure_of(context, {"connectionString":
                                   f"host={HOST} dbname={DATABASE} user={USER} {setting}"})
    assert setting.split("=")[0] in message


def test_connection_string_must_name_host_database_and_user(context: ConnectorContext) -> None:
    message = failure_of(context, {"connectionString": f"password={FAKE_PASSWORD}"})
    assert "host, dbname, user" in message


def test_basic_params_missing_values_are_refused(context: ConnectorContext) -> None:
    assert "host, dbname" in failure_of(context, basic(host="", database=""))


@pytest.mark.parametrize("host", ["/var/run/postgresql", "@abstract", "127.0.0.1,/tmp", "h,"])
def test_socket_hosts_are_refused(context: ConnectorContext, host: str) -> None:
    assert "socket" in failure_of(context, basic(host=host))


def test_conninfo_never_falls_back_to_server_password_sources() -> None:
    conninfo = build_conninfo(basic(password=None))
    assert "password=''" in conninfo
    assert "passfile=" in conninfo
    assert "connect_timeout=5" in conninfo
