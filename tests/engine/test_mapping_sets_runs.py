"""Runs that apply a mapping set: JSON paths, struct paths, constants, defaults and casts;
values that do not cast are bad rows under the flow's threshold; flows run the version they pin.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from mapping_runs import (
    MAPPING_SETS,
    bad_rows,
    create_mapping_set,
    dataset,
    error,
    hour,
    mapping,
    parquet_file,
    parquet_flow,
    rows,
    run_once,
    sqlite_table,
    stamp,
    status,
    table_columns,
    table_flow,
    table_version,
)

from sluice.config import Settings
from sluice.engine.worker import Worker
from support.callers import Caller


def customer(i: int) -> str | None:
    if i == 5:
        return "{oops"  # not JSON: a bad row
    if i == 8:
        return None  # no customer at all: nulls, and the tier's default
    doc: dict[str, object] = {"name": f"c{i}", "since": f"2024-0{1 + i % 9}-15"}
    if i != 3:  # row 3 has no tier: the default
        doc["tier"] = "gold" if i == 7 else i % 3  # "gold" is no integer: a bad row
    return json.dumps(doc)


ORDER_MAPPINGS = [
    {"source": "id", "destination": "order_id", "destinationType": "long"},
    {"source": "$.customer.name", "destination": "customer_name"},
    {"source": "$.customer.tier", "destination": "tier", "destinationType": "integer",
     "default": 0},
    {"source": "$.customer.since", "destination": "since", "destinationType": "date"},
    {"sourceType": "CONSTANT", "value": "web", "destination": "channel"},
    {"source": "AMOUNT", "destination": "amount", "destinationType": "decimal(10,2)"},
    {"source": "updated_at", "destination": "updated_at"},
]


def orders_db(root: Path) -> Path:
    return sqlite_table(
        root,
        "CREATE TABLE src (id INTEGER, customer TEXT, amount TEXT, updated_at TIMESTAMP)",
        [(i, customer(i), f"{i}.25", stamp(hour(i))) for i in range(10)],
    )


def mapped_orders_run(caller: Caller, settings: Settings, worker: Worker,
                      partial_ingestion_percent: int) -> tuple[dict[str, Any], str]:
    """A run over hours 0-10 of `orders_db` through ORDER_MAPPINGS (bad rows recorded, up to
    that share of them allowed); the run, and its dataset's id."""
    db = orders_db(Path(settings.allowed_file_roots[0]))
    mapping_id = create_mapping_set(caller, *ORDER_MAPPINGS)
    dataset_id = dataset(caller)
    flow = table_flow(caller, db, dataset_id, transformations=[mapping(mapping_id)],
                      errorDiagnosticsEnabled=True,
                      partialIngestionPercent=partial_ingestion_percent,
                      # One part: a bad row's "row N" counts rows in the order they arrive.
                      parallelism=1)
    return run_once(caller, worker, flow, hour(0), hour(10)), dataset_id


def test_json_paths_constants_defaults_and_casts_land_typed_with_bad_rows_quarantined(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    run, dataset_id = mapped_orders_run(caller, settings, worker, partial_ingestion_percent=25)
    assert status(run) == "success", run["metrics"]
    assert run["metrics"]["recordSummary"] == {
        "inputRecordCount": 10, "outputRecordCount": 8, "failedRecordCount": 2}
    quarantined = bad_rows(caller, run["id"])
    assert [b["location"] for b in quarantined] == ["row 6", "row 8"]
    assert "column 'customer' is not valid JSON" in quarantined[0]["reason"]
    assert "column 'tier'" in quarantined[1]["reason"]
    assert "gold" in quarantined[1]["raw"]

    assert table_columns(settings, caller, dataset_id) == {
        "order_id": pa.int64(), "customer_name": pa.string(), "tier": pa.int32(),
        "since": pa.date32(), "channel": pa.string(), "amount": pa.decimal128(10, 2),
        "updated_at": pa.timestamp("us"),
    }
    landed = rows(caller, dataset_id, "order_id")
    assert [r["order_id"] for r in landed] == [0, 1, 2, 3, 4, 6, 8, 9]
    by_id = {r["order_id"]: r for r in landed}
    assert by_id[1] == {
        "order_id": 1, "customer_name": "c1", "tier": 1, "since": "2024-02-15",
        "channel": "web", "amount": "1.25", "updated_at": by_id[1]["updated_at"]}
    assert by_id[3]["tier"] == 0  # missing key: the default
    assert by_id[8] == {**by_id[8], "customer_name": None, "tier": 0, "since": None}
    assert {r["channel"] for r in landed} == {"web"}


def test_a_failed_share_above_the_threshold_writes_nothing(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    run, dataset_id = mapped_orders_run(caller, settings, worker, partial_ingestion_percent=10)
    assert status(run) == "failed"
    assert error(run)["code"] == "CONNECTOR-2001-500"
    assert "2 of 10 records" in error(run)["message"]
    assert table_version(settings, caller, dataset_id) is None
    assert len(bad_rows(caller, run["id"])) == 2


CUSTOMER = pa.struct([
    ("name", pa.string()),
    ("address", pa.struct([("city", pa.string()), ("zip", pa.string())])),
])


def customers_folder(settings: Settings) -> Path:
    """A folder in the allowed root holding `customers.parquet` (nested customers)."""
    folder = Path(settings.allowed_file_roots[0]) / "customers"
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "customer": pa.array([
            {"name": "Ada", "address": {"city": "Paris", "zip": "75001"}},
            {"name": "Bob", "address": None},
            None,
        ], CUSTOMER),
        "payload": [json.dumps({"items": [{"sku": "a"}, {"sku": "b"}]}),
                    json.dumps({"items": [{"sku": "c"}]}), None],
    })
    parquet_file(folder, "customers.parquet", table, hour(1))
    return folder


STRUCT_MAPPINGS = [
    {"source": "id", "destination": "id"},
    {"source": "customer.name", "destination": "name"},
    {"source": "customer.address.city", "destination": "city", "default": "unknown"},
    {"source": "customer['address'].zip", "destination": "zip"},
    {"source": "customer.address.country", "destination": "country", "default": "FR"},
    {"source": "$.payload.items[1].sku", "destination": "second_sku"},
]


def test_struct_paths_reach_nested_fields_and_missing_fields_take_the_default(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    folder = customers_folder(settings)
    mapping_id = create_mapping_set(caller, *STRUCT_MAPPINGS)
    dataset_id = dataset(caller)
    flow = parquet_flow(caller, folder, dataset_id, transformations=[mapping(mapping_id)])
    run = run_once(caller, worker, flow, hour(0), hour(2), delta=None)
    assert status(run) == "success", run["metrics"]
    assert rows(caller, dataset_id, "id") == [
        {"id": 1, "name": "Ada", "city": "Paris", "zip": "75001", "country": "FR",
         "second_sku": "b"},
        {"id": 2, "name": "Bob", "city": "unknown", "zip": None, "country": "FR",
         "second_sku": None},
        {"id": 3, "name": None, "city": "unknown", "zip": None, "country": "FR",
         "second_sku": None},
    ]


def test_flows_run_the_version_they_pin_and_an_unresolvable_source_fails_the_run(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    folder = customers_folder(settings)
    mapping_id = create_mapping_set(caller, *STRUCT_MAPPINGS)
    broken = [*STRUCT_MAPPINGS, {"source": "customer.phone", "destination": "phone"}]
    replaced = caller.put(f"{MAPPING_SETS}/{mapping_id}", json={"mappings": broken},
                          headers={"If-Match": "*"})
    assert replaced.json()["version"] == 1

    latest_dataset = dataset(caller)
    latest = parquet_flow(caller, folder, latest_dataset, transformations=[mapping(mapping_id)])
    run = run_once(caller, worker, latest, hour(0), hour(2), delta=None)
    assert status(run) == "failed"
    assert error(run)["code"] == "CONNECTOR-2004-400"
    assert "'phone'" in error(run)["message"] and "no field 'phone'" in error(run)["message"]
    assert table_version(settings, caller, latest_dataset) is None

    pinned_dataset = dataset(caller)
    pinned = parquet_flow(caller, folder, pinned_dataset,
                          transformations=[mapping(mapping_id, 0)])
    run = run_once(caller, worker, pinned, hour(0), hour(2), delta=None)
    assert status(run) == "success", run["metrics"]
    assert "phone" not in table_columns(settings, caller, pinned_dataset)


def test_declared_dataset_types_cast_mapped_columns_and_constants(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = sqlite_table(
        Path(settings.allowed_file_roots[0]),
        "CREATE TABLE src (id INTEGER, price TEXT, updated_at TIMESTAMP)",
        [(1, "2.50", stamp(hour(1))), (2, "3", stamp(hour(2)))],
    )
    dataset_id = dataset(caller, [("id", "long"), ("price", "decimal(12,2)"),
                                  ("batch", "date"), ("updated_at", "timestamp")])
    mapping_id = create_mapping_set(
        caller,
        {"source": "id", "destination": "id"},
        {"source": "price", "destination": "price"},
        {"sourceType": "CONSTANT", "value": "2024-05-01", "destination": "batch"},
        {"source": "updated_at", "destination": "updated_at"},
    )
    flow = table_flow(caller, db, dataset_id, transformations=[mapping(mapping_id)])
    run = run_once(caller, worker, flow, hour(0), hour(3))
    assert status(run) == "success", run["metrics"]
    columns = table_columns(settings, caller, dataset_id)
    assert columns["price"] == pa.decimal128(12, 2) and columns["batch"] == pa.date32()
    delta = rows(caller, dataset_id, "id")
    assert [(r["id"], Decimal(r["price"]), r["batch"]) for r in delta] == [
        (1, Decimal("2.50"), "2024-05-01"), (2, Decimal("3.00"), "2024-05-01")]
    assert dt.date.fromisoformat(delta[0]["batch"]) == dt.date(2024, 5, 1)
