"""`GET /connections/{id}/explore` over HTTP, on both metadata stores: listings and previews
of PostgreSQL and SQLite sources, and the coded errors of a bad request or a failing source."""

from __future__ import annotations

import socket
import sqlite3
import struct
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from httpx import Response

from sluice.config import Settings
from support.api_bodies import FS, SECRET, created_id, postgres_connection, sqlite_connection
from support.callers import Caller, error_code
from support.net import closed_port

ROWS = 5


def explore_url(connection_id: str) -> str:
    return f"{FS}/connections/{connection_id}/explore"


def explore_root_and_table(caller: Caller, **auth_params: Any) -> list[Response]:
    """A PostgreSQL connection with these auth params; the answers to listing its root and to
    previewing a table (`public.t`)."""
    body = postgres_connection()
    body["auth"]["params"].update(auth_params)
    connection = created_id(caller.post(f"{FS}/connections", json=body))
    return [caller.get(explore_url(connection), params=params) for params in (
        {"objectType": "root"}, {"objectType": "table", "object": "public.t", "preview": "true"})]


def pg_source(sql: str) -> None:
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                         autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A new schema in db `test` holding `orders` (typed columns, ROWS rows) and a view."""
    schema = f"ex_{uuid.uuid4().hex[:10]}"
    pg_source(f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {schema}.orders (
            id bigint PRIMARY KEY,
            placed_at timestamptz NOT NULL,
            amount numeric(12, 2),
            paid bool,
            day date,
            note text
        );
        INSERT INTO {schema}.orders
        SELECT g, timestamptz '2024-05-01 10:00:00+00' + g * interval '1 hour',
               g * 10.25, g % 2 = 0, date '2024-05-01' + g, 'order ' || g
        FROM generate_series(1, {ROWS}) AS g;
        INSERT INTO {schema}.orders VALUES (100, '2024-06-01 00:00:00+00', NULL, NULL, NULL, NULL);
        CREATE VIEW {schema}.big_orders AS SELECT * FROM {schema}.orders WHERE amount > 20;
    """)
    try:
        yield schema
    finally:
        pg_source(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def pg_connection(caller: Caller) -> str:
    return created_id(caller.post(f"{FS}/connections", json=postgres_connection()))


@pytest.fixture
def sqlite_db(settings: Settings) -> Path:
    path = Path(settings.allowed_file_roots[0]) / f"shop_{uuid.uuid4().hex[:8]}.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, balance DECIMAL(10, 2),
                                    joined DATE, seen_at DATETIME, vip BOOLEAN);
            INSERT INTO customers VALUES (1, 'Ada', 12.5, '2024-01-02', '2024-01-02 03:04:05', 1),
                                         (2, 'Bob', NULL, NULL, NULL, 0),
                                         (3, 'Cy', 7, '2024-02-03', '2024-02-03 00:00:00', 0);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER);
            CREATE VIEW named AS SELECT name FROM customers;
        """)
    conn.close()
    return path


# -- PostgreSQL ----------------------------------------------------------------------------


def test_root_lists_schemas_and_a_schema_lists_its_tables_and_views(
    caller: Caller, pg_connection: str, pg_schema: str
) -> None:
    root = caller.get(explore_url(pg_connection), params={"objectType": "root"})
    assert root.status_code == 200, root.text
    names = {item["name"]: item for item in root.json()}
    assert names[pg_schema] == {"type": "schema", "name": pg_schema, "path": pg_schema,
                                "canPreview": False, "canFetchSchema": False}
    assert "public" in names
    assert not {"pg_catalog", "information_schema", "pg_toast"} & names.keys()
    # objectType is taken in any case; without one, the root is listed.
    assert caller.get(explore_url(pg_connection)).json() == root.json()

    listed = caller.get(explore_url(pg_connection),
                        params={"objectType": "SCHEMA", "object": pg_schema})
    assert listed.status_code == 200, listed.text
    assert listed.json() == [
        {"type": "table", "name": "big_orders", "path": f"{pg_schema}.big_orders",
         "canPreview": True, "canFetchSchema": True},
        {"type": "table", "name": "orders", "path": f"{pg_schema}.orders",
         "canPreview": True, "canFetchSchema": True},
    ]


def test_preview_returns_rows_and_catalog_types(
    caller: Caller, pg_connection: str, pg_schema: str
) -> None:
    response = caller.get(explore_url(pg_connection), params={
        "objectType": "table", "object": f"{pg_schema}.orders", "preview": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["format"] == "flat"
    assert body["schema"]["columns"] == [
        {"name": "id", "type": "long"},
        {"name": "placed_at", "type": "timestamp"},
        {"name": "amount", "type": "decimal(12,2)"},
        {"name": "paid", "type": "boolean"},
        {"name": "day", "type": "date"},
        {"name": "note", "type": "string"},
    ]
    rows = {row["id"]: row for row in body["data"]}
    assert len(body["data"]) == ROWS + 1
    assert rows[2] == {"id": 2, "placed_at": "2024-05-01T12:00:00+00:00", "amount": "20.50",
                       "paid": True, "day": "2024-05-03", "note": "order 2"}
    assert rows[100] == {"id": 100, "placed_at": "2024-06-01T00:00:00+00:00", "amount": None,
                         "paid": None, "day": None, "note": None}


def test_preview_rows_is_a_limit(caller: Caller, pg_connection: str, pg_schema: str) -> None:
    params = {"objectType": "table", "object": f"{pg_schema}.orders", "preview": "true"}
    two = caller.get(explore_url(pg_connection), params={**params, "previewRows": "2"})
    assert two.status_code == 200, two.text
    assert len(two.json()["data"]) == 2
    view = caller.get(explore_url(pg_connection), params={
        **params, "object": f"{pg_schema}.big_orders", "previewRows": "1000"})
    assert view.status_code == 200, view.text
    assert sorted(row["id"] for row in view.json()["data"]) == [2, 3, 4, 5]
    for bad in ("0", "1001", "many"):
        refused = caller.get(explore_url(pg_connection), params={**params, "previewRows": bad})
        assert refused.status_code == 400, refused.text
        assert error_code(refused) == "FLOW-1000-400"


def test_table_without_preview_is_its_schema_only(
    caller: Caller, pg_connection: str, pg_schema: str
) -> None:
    response = caller.get(explore_url(pg_connection),
                          params={"objectType": "table", "object": f"{pg_schema}.orders"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == []
    assert [c["name"] for c in body["schema"]["columns"]] == [
        "id", "placed_at", "amount", "paid", "day", "note"]


# -- SQLite --------------------------------------------------------------------------------


def test_sqlite_lists_tables_and_views_and_previews_one(caller: Caller, sqlite_db: Path) -> None:
    connection = created_id(caller.post(f"{FS}/connections", json=sqlite_connection(sqlite_db)))
    listed = caller.get(explore_url(connection), params={"objectType": "root"})
    assert listed.status_code == 200, listed.text
    assert [(i["type"], i["name"], i["path"]) for i in listed.json()] == [
        ("table", "customers", "customers"), ("table", "named", "named"),
        ("table", "orders", "orders")]

    preview = caller.get(explore_url(connection), params={
        "objectType": "table", "object": "customers", "preview": "true", "previewRows": "2"})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["schema"]["columns"] == [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "balance", "type": "decimal(10,2)"},
        {"name": "joined", "type": "date"},
        {"name": "seen_at", "type": "timestamp_ntz"},
        {"name": "vip", "type": "boolean"},
    ]
    assert body["data"] == [
        {"id": 1, "name": "Ada", "balance": "12.50", "joined": "2024-01-02",
         "seen_at": "2024-01-02T03:04:05", "vip": True},
        {"id": 2, "name": "Bob", "balance": None, "joined": None, "seen_at": None, "vip": False},
    ]

    folder = caller.get(explore_url(connection), params={"objectType": "folder", "object": "x"})
    assert folder.status_code == 400
    assert error_code(folder) == "CONNECTOR-1001-400"


# -- errors --------------------------------------------------------------------------------


def test_bad_object_type_or_missing_object_is_1000(caller: Caller, pg_connection: str) -> None:
    cases: list[dict[str, Any]] = [
        {"objectType": "bucket"},
        {"objectType": "schema"},
        {"objectType": "table", "preview": "true"},
        {"objectType": "root", "preview": "true"},
        {"objectType": "table", "object": "public.x", "preview": "maybe"},
    ]
    for params in cases:
        response = caller.get(explore_url(pg_connection), params=params)
        assert response.status_code == 400, (params, response.text)
        assert error_code(response) == "FLOW-1000-400", params
        assert response.json()["report"]["detailed-message"]


def test_missing_table_and_schema_are_coded_400(caller: Caller, pg_connection: str) -> None:
    table = caller.get(explore_url(pg_connection), params={
        "objectType": "table", "object": "public.ex_no_such_table", "preview": "true"})
    assert table.status_code == 400, table.text
    assert error_code(table) == "CONNECTOR-1002-400"  # a missing source's own code (issue 13)
    assert "ex_no_such_table" in table.json()["report"]["detailed-message"]
    schema = caller.get(explore_url(pg_connection),
                        params={"objectType": "schema", "object": "ex_no_such_schema"})
    assert schema.status_code == 400, schema.text
    assert error_code(schema) == "CONNECTOR-1001-400"
    assert "ex_no_such_schema" in schema.json()["report"]["detailed-message"]


def test_unreachable_server_is_502_without_the_password(caller: Caller) -> None:
    for response in explore_root_and_table(caller, port=closed_port()):
        assert response.status_code == 502, response.text
        assert error_code(response) == "CONNECTOR-1001-502"
        assert "Check the host and port" in response.json()["report"]["detailed-message"]
        assert SECRET not in response.text


def test_wrong_password_is_coded_400_without_the_password(
    caller: Caller, password_refusing_server: PasswordRefusingServer
) -> None:
    for response in explore_root_and_table(caller, port=password_refusing_server.port):
        assert response.status_code == 400, response.text
        assert error_code(response) == "CONNECTOR-1001-400"
        message = response.json()["report"]["detailed-message"]
        assert "password authentication failed" in message
        assert "Check the username and password" in message
        assert SECRET not in response.text
    # The driver really sent the (wrong) password: this is the password path, not another.
    assert password_refusing_server.passwords_seen == [SECRET, SECRET]


def test_another_tenants_connection_is_404(
    caller: Caller, other_caller: Caller, pg_connection: str
) -> None:
    response = other_caller.get(explore_url(pg_connection), params={"objectType": "root"})
    assert response.status_code == 404, response.text
    assert error_code(response) == "FLOW-1439-404"
    missing = caller.get(explore_url("no-such-connection"))
    assert error_code(missing) == "FLOW-1439-404"


# -- a PostgreSQL server that refuses every password ---------------------------------------


class PasswordRefusingServer:
    """Speaks just enough of the PostgreSQL protocol to ask for a password and refuse it as
    PostgreSQL does (FATAL 28P01): the test server trusts every local connection, so a real
    wrong-password answer needs a server of its own."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.passwords_seen: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with client:
                try:
                    self._refuse(client)
                except (OSError, struct.error):
                    continue

    def _refuse(self, client: socket.socket) -> None:
        while True:
            (length,) = struct.unpack("!i", _read(client, 4))
            (code,) = struct.unpack("!i", _read(client, 4))
            _read(client, length - 8)
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest: not offered
                client.sendall(b"N")
                continue
            break
        client.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        kind = _read(client, 1)
        (length,) = struct.unpack("!i", _read(client, 4))
        password = _read(client, length - 4)
        if kind == b"p":
            self.passwords_seen.append(password.rstrip(b"\0").decode())
        fields = b"".join(key + value + b"\0" for key, value in (
            (b"S", b"FATAL"), (b"V", b"FATAL"), (b"C", b"28P01"),
            (b"M", b'password authentication failed for user "postgres"')))
        body = fields + b"\0"
        client.sendall(b"E" + struct.pack("!i", len(body) + 4) + body)


def _read(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        if not chunk:
            raise OSError("the client closed the connection")
        data += chunk
    return data


@pytest.fixture
def password_refusing_server() -> Iterator[PasswordRefusingServer]:
    server = PasswordRefusingServer()
    try:
        yield server
    finally:
        server.close()


def test_a_guarded_host_is_refused_at_create_so_nothing_can_explore_it(caller: Caller) -> None:
    body = postgres_connection()
    body["auth"]["params"]["host"] = "169.254.169.254"
    response = caller.post(f"{FS}/connections", json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1000-400"
    assert "metadata" in response.json()["report"]["detailed-message"]
    assert caller.get(f"{FS}/connections?count=true").json() == {"count": 0}
