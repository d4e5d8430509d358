"""The shared connector journey (`connector_journey.run_journey`) for the PostgreSQL and
SQLite sources, over HTTP against a real `sluice serve`; and `sluice connections explore`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from connector_journey import IN_WINDOW, WINDOW, Journey, check_orders_landed, run_journey
from e2e_flows import POSTGRES_SPEC
from processes import ServerProcess, client_for, pg_source, run_cli, sluice_env, unique_name

pytestmark = pytest.mark.e2e

SQLITE_SPEC = "40a2e097-51aa-4ded-91a4-482c06367e24"
# The orders; rows 1 and 4 lie outside WINDOW.
ORDERS = [
    (1, "2024-04-30 23:59:59", "1.10", True),
    (2, "2024-05-01 00:00:00", "2.20", False),
    (3, "2024-05-01 23:59:59", "3.30", True),
    (4, "2024-05-02 00:00:00", "4.40", False),
]


@pytest.fixture
def pg_schema() -> Iterator[str]:
    schema = unique_name("e2e_journey")
    pg_source(f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {schema}.orders (
            id bigint PRIMARY KEY, updated_at timestamptz NOT NULL,
            amount numeric(12, 2) NOT NULL, paid bool NOT NULL);
    """)
    for order_id, at, amount, paid in ORDERS:
        pg_source(f"INSERT INTO {schema}.orders VALUES (%s, %s, %s, %s)",
                  [order_id, f"{at}+00", amount, paid])
    try:
        yield schema
    finally:
        pg_source(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_postgresql_journey(server: ServerProcess, pg_schema: str) -> None:
    table = f"{pg_schema}.orders"
    journey = Journey(
        name=pg_schema,
        connection_spec_id=POSTGRES_SPEC,
        auth={"specName": "Basic Authentication", "params": {
            "host": "127.0.0.1", "port": 5432, "database": "test",
            "username": "postgres", "password": "unused-with-trust"}},
        explore=[("root", None), ("schema", pg_schema)],
        preview={"objectType": "table", "object": table},
        source={"data": {"format": "tabular"}, "params": {"tableName": table}},
        file_source=False,
        window=WINDOW,
        delta_column="updated_at",
    )
    with client_for(server) as client:
        result = run_journey(client, server.data_dir, journey)

    assert pg_schema in [item["name"] for item in result.listings[0]]
    assert [item["path"] for item in result.listings[1]] == [table]
    assert result.preview["schema"]["columns"] == [
        {"name": "id", "type": "long"}, {"name": "updated_at", "type": "timestamp"},
        {"name": "amount", "type": "decimal(12,2)"}, {"name": "paid", "type": "boolean"}]
    assert sorted(row["id"] for row in result.preview["data"]) == [1, 2, 3, 4]
    check_orders_landed(result)


def test_sqlite_journey_and_the_explore_command(server: ServerProcess, files_root: Path) -> None:
    name = unique_name("e2e_journey")
    database = files_root / f"{name}.db"
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, updated_at DATETIME,"
                     " amount DECIMAL(12, 2), paid BOOLEAN)")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ORDERS)
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.close()
    journey = Journey(
        name=name,
        connection_spec_id=SQLITE_SPEC,
        auth={"specName": "File Path Authentication", "params": {"path": str(database)}},
        explore=[("root", None)],
        preview={"objectType": "table", "object": "orders"},
        source={"data": {"format": "tabular"}, "params": {"tableName": "orders"}},
        file_source=False,
        window=WINDOW,
        delta_column="updated_at",
    )
    with client_for(server) as client:
        result = run_journey(client, server.data_dir, journey)

    assert [item["name"] for item in result.listings[0]] == ["customers", "orders"]
    assert result.preview["data"][0] == {
        "id": 1, "updated_at": "2024-04-30T23:59:59", "amount": "1.10", "paid": True}
    rows = result.rows.sort_by("id")
    assert rows["id"].to_pylist() == IN_WINDOW
    assert rows["amount"].to_pylist() == [Decimal("2.20"), Decimal("3.30")]

    env = sluice_env(server.data_dir, url=server.url)
    listed = run_cli("connections", "explore", result.connection_id, "--output", "json", env=env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert json.loads(listed.stdout) == result.listings[0]
    previewed = run_cli("connections", "explore", result.connection_id, "--type", "table",
                        "--object", "orders", "--preview", env=env)
    assert previewed.returncode == 0, previewed.stdout + previewed.stderr
    assert "decimal(12,2)" in previewed.stdout and "4.40" in previewed.stdout
    missing = run_cli("connections", "explore", result.connection_id, "--type", "table",
                      "--object", "no_such_table", env=env)
    assert missing.returncode == 1
    # A source that does not exist has its own code (issue 13), in a preview as in a run.
    assert "CONNECTOR-1002-400" in missing.stderr and "no_such_table" in missing.stderr
