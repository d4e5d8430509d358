"""The shared connector journey for the MySQL spec and the generic SQLAlchemy spec, over HTTP
against a real `sluice serve` and the real MariaDB; and a wrong password, which must give a
failed test and a coded run failure and leave the dataset without any commit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from connector_journey import (
    DAY,
    WINDOW,
    Journey,
    JourneyResult,
    check_orders_landed,
    run_journey,
)
from e2e_flows import (
    CATALOG,
    DATA_LAKE_SPEC,
    TABLE_FLOW_SPEC,
    create_connection,
    create_run,
    create_source_connection,
)
from processes import ServerProcess, client_for

from sluice.client import Created, SluiceClient, run_status
from support.mariadb import FAKE_PASSWORD, MariaTables, my_auth, my_execute, my_url, quoted

pytestmark = pytest.mark.e2e

MYSQL_SPEC = "5c3f6a0e-9b1d-4e8a-a7c2-3d4f1e2b6a90"
SQL_DATABASE_SPEC = "8e1d2c47-6a3b-4f5e-9c0d-7b2a1f4e3d56"
# The orders; rows 1 and 4 lie outside WINDOW.
ORDERS = [
    (1, "2024-04-30 23:59:59", "1.10", 1),
    (2, "2024-05-01 00:00:00", "2.20", 0),
    (3, "2024-05-01 23:59:59.999999", "3.30", 1),
    (4, "2024-05-02 00:00:00", "4.40", 0),
]
EXPECTED_COLUMNS = [
    {"name": "id", "type": "long"}, {"name": "updated_at", "type": "timestamp_ntz"},
    {"name": "amount", "type": "decimal(12,2)"}, {"name": "paid", "type": "boolean"}]


@pytest.fixture
def shop() -> Iterator[str]:
    """A database of its own holding `orders`; its name."""
    made = MariaTables()
    database = made.database("e2e_shop")
    made.table("id bigint PRIMARY KEY, updated_at datetime(6) NOT NULL,"
               " amount decimal(12, 2) NOT NULL, paid tinyint(1) NOT NULL",
               name="orders", database=database)
    my_execute(f"INSERT INTO {quoted(database)}.orders VALUES (%s, %s, %s, %s)", ORDERS,
               many=True)
    try:
        yield database
    finally:
        made.drop_all()


def journey(name: str, spec: str, auth: dict[str, Any], database: str) -> Journey:
    table = f"{database}.orders"
    return Journey(
        name=name,
        connection_spec_id=spec,
        auth=auth,
        explore=[("root", None), ("schema", database)],
        preview={"objectType": "table", "object": table},
        source={"data": {"format": "tabular"}, "params": {"tableName": table}},
        file_source=False,
        window=WINDOW,
        delta_column="updated_at",
    )


def check_result(result: JourneyResult, database: str) -> None:
    assert database in [item["name"] for item in result.listings[0]]
    assert [item["path"] for item in result.listings[1]] == [f"{database}.orders"]
    assert result.preview["schema"]["columns"] == EXPECTED_COLUMNS
    assert sorted(row["id"] for row in result.preview["data"]) == [1, 2, 3, 4]
    rows = check_orders_landed(result)
    assert rows["paid"].to_pylist() == [False, True]
    assert rows["updated_at"].to_pylist() == [  # DATETIME has no zone: it stays zone-less
        datetime(2024, 5, 1), datetime(2024, 5, 1, 23, 59, 59, 999999)]


def test_mysql_journey(server: ServerProcess, shop: str) -> None:
    auth = {"specName": "Basic Authentication", "params": my_auth()}
    with client_for(server) as client:
        result = run_journey(client, server.data_dir, journey(shop, MYSQL_SPEC, auth, shop))
    check_result(result, shop)


def test_sql_database_journey(server: ServerProcess, shop: str) -> None:
    auth = {"specName": "SQLAlchemy URL Authentication", "params": {"url": my_url()}}
    with client_for(server) as client:
        result = run_journey(client, server.data_dir,
                             journey(shop, SQL_DATABASE_SPEC, auth, shop))
    check_result(result, shop)


def flow_with_delta_column(client: SluiceClient, spec: str, connection_id: str,
                           table: str) -> tuple[str, str]:
    """A daily flow (first tick a day away) whose Copy already names the delta column, so an
    on-demand run goes straight to the source; (flow id, dataset id)."""
    source = create_source_connection(client, f"{table} source", spec, connection_id, {
        "data": {"format": "tabular"}, "params": {"tableName": table}})
    dataset = Created.from_body(client.post(f"{CATALOG}/dataSets", {"name": f"{table} data"})).id
    target = str(client.post("targetConnections", {
        "name": f"{table} lake", "params": {"dataSetId": dataset},
        "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"}})["id"])
    flow = str(client.post("flows", {
        "name": f"{table} flow", "flowSpec": {"id": TABLE_FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}],
        "scheduleParams": {"startTime": str(int(time.time()) + DAY), "frequency": "day",
                           "interval": 1, "backfill": False}})["id"])
    return flow, dataset


@pytest.mark.parametrize("spec", [MYSQL_SPEC, SQL_DATABASE_SPEC])
def test_wrong_password_fails_coded_and_commits_nothing(server: ServerProcess, shop: str,
                                                        spec: str) -> None:
    auth = ({"specName": "Basic Authentication", "params": my_auth(password=FAKE_PASSWORD)}
            if spec == MYSQL_SPEC else
            {"specName": "SQLAlchemy URL Authentication",
             "params": {"url": my_url(password=FAKE_PASSWORD)}})
    with client_for(server) as client:
        connection_id = create_connection(client, f"{shop} wrong password", spec, auth)
        tested = client.get(f"connections/{connection_id}/test")
        assert tested["result"] is False
        assert "Access denied" in tested["message"] and "Fake-Pa55" not in tested["message"]

        flow_id, dataset_id = flow_with_delta_column(client, spec, connection_id,
                                                     f"{shop}.orders")
        run_id = create_run(client, flow_id, *WINDOW)
        run = client.wait_for_run(run_id, timeout_seconds=300)

    assert run_status(run) == "failed"
    (error,) = run["metrics"]["statusSummary"]["errors"]
    assert error["code"] == "CONNECTOR-1001-500"
    assert "Access denied" in error["message"] and "Fake-Pa55" not in str(run)
    # No Delta commit: the dataset's table was never created.
    assert not list((server.data_dir / "lake").glob(f"*/*/{dataset_id}/_delta_log/*.json"))
