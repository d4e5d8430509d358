"""Schema evolution through real runs: a new source column is added (and declared in the
catalog), dropped, or fails the run; lossy type changes fail before writing anything;
widenings and text parsing go through."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from mapping_runs import (
    bad_rows,
    catalog_fields,
    dataset,
    error,
    get_run,
    hour,
    parquet_file,
    parquet_flow,
    rows,
    run_all,
    run_once,
    sqlite_execute,
    sqlite_table,
    stamp,
    start_run,
    status,
    table_columns,
    table_flow,
    table_path,
    table_version,
)

from sluice.config import Settings
from sluice.engine.target_schema import existing_table_schema
from sluice.engine.worker import Worker
from sluice.lake.schema import add_system_columns, with_system_columns
from sluice.lake.writer import WritePlan, write_run
from support.callers import Caller

DECLARED = [("id", "long"), ("updated_at", "timestamp")]


def first_run_then_a_new_column(
    caller: Caller, settings: Settings, worker: Worker, **options: object
) -> tuple[str, str, int]:
    """(flow, dataset, Delta version) after a first run over hours 0-3; then the source
    gains a `note` column, filled in the rows of hours 4-5 (and changed on row 1)."""
    db = sqlite_table(Path(settings.allowed_file_roots[0]),
                      "CREATE TABLE src (id INTEGER, updated_at TIMESTAMP)",
                      [(i, stamp(hour(i))) for i in range(4)])
    dataset_id = dataset(caller, DECLARED)
    flow = table_flow(caller, db, dataset_id, **options)
    first = run_once(caller, worker, flow, hour(0), hour(4))
    assert status(first) == "success", first["metrics"]
    sqlite_execute(db, "ALTER TABLE src ADD COLUMN note TEXT",
                   f"UPDATE src SET note = 'changed', updated_at = '{stamp(hour(4))}' "
                   "WHERE id = 1",
                   rows=[(i, stamp(hour(i)), f"note {i}") for i in (4, 5)])
    version = table_version(settings, caller, dataset_id)
    assert version is not None
    return flow, dataset_id, version


@pytest.mark.parametrize("write_mode", ["replaceWindow", "append", "merge"])
def test_add_columns_adds_the_new_column_to_the_table_and_the_catalog(
    caller: Caller, settings: Settings, worker: Worker, write_mode: str
) -> None:
    options: dict[str, object] = {"writeMode": write_mode}
    if write_mode == "merge":
        options["primaryKey"] = ["id"]
    flow, dataset_id, version = first_run_then_a_new_column(caller, settings, worker, **options)
    run = run_once(caller, worker, flow, hour(4), hour(6))
    assert status(run) == "success", run["metrics"]
    assert table_version(settings, caller, dataset_id) == version + 1
    assert table_columns(settings, caller, dataset_id) == {
        "id": pa.int64(), "updated_at": pa.timestamp("us", tz="UTC"), "note": pa.string()}
    assert catalog_fields(caller, dataset_id) == [*DECLARED, ("note", "string")]
    landed = [(r["id"], r["note"]) for r in rows(caller, dataset_id, "id")]
    if write_mode == "merge":  # row 1 is updated in place
        assert landed == [(0, None), (1, "changed"), (2, None), (3, None), (4, "note 4"),
                          (5, "note 5")]
    else:  # older rows read null in the new column; row 1 arrives again in its new window
        assert sorted(landed, key=str) == sorted(
            [(0, None), (1, None), (1, "changed"), (2, None), (3, None), (4, "note 4"),
             (5, "note 5")], key=str)


def test_frozen_drops_the_new_column(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    flow, dataset_id, version = first_run_then_a_new_column(
        caller, settings, worker, schemaEvolution="frozen")
    run = run_once(caller, worker, flow, hour(4), hour(6))
    assert status(run) == "success", run["metrics"]
    assert table_version(settings, caller, dataset_id) == version + 1
    assert set(table_columns(settings, caller, dataset_id)) == {"id", "updated_at"}
    assert catalog_fields(caller, dataset_id) == DECLARED
    assert sorted(r["id"] for r in rows(caller, dataset_id, "id")) == [0, 1, 1, 2, 3, 4, 5]


def test_fail_fails_the_run_naming_the_column_and_changes_nothing(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    flow, dataset_id, version = first_run_then_a_new_column(
        caller, settings, worker, schemaEvolution="fail")
    before = rows(caller, dataset_id, "id")
    run = run_once(caller, worker, flow, hour(4), hour(6))
    assert status(run) == "failed"
    assert error(run)["code"] == "CONNECTOR-2002-400"
    assert "'note' (string)" in error(run)["message"]
    assert table_version(settings, caller, dataset_id) == version
    assert rows(caller, dataset_id, "id") == before
    assert catalog_fields(caller, dataset_id) == DECLARED


def test_a_dataset_without_a_declared_schema_gains_columns_in_the_table_only(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = sqlite_table(Path(settings.allowed_file_roots[0]),
                      "CREATE TABLE src (id INTEGER, updated_at TIMESTAMP)",
                      [(i, stamp(hour(i))) for i in range(2)])
    dataset_id = dataset(caller)
    flow = table_flow(caller, db, dataset_id)
    assert status(run_once(caller, worker, flow, hour(0), hour(2))) == "success"
    sqlite_execute(db, "ALTER TABLE src ADD COLUMN score REAL",
                   rows=[(2, stamp(hour(2)), 0.5)])
    assert status(run_once(caller, worker, flow, hour(2), hour(3))) == "success"
    assert table_columns(settings, caller, dataset_id)["score"] == pa.float64()
    assert catalog_fields(caller, dataset_id) is None
    assert [r["score"] for r in rows(caller, dataset_id, "id")] == [None, None, 0.5]


def test_a_lossy_type_change_fails_before_writing_whatever_the_option(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = sqlite_table(Path(settings.allowed_file_roots[0]),
                      "CREATE TABLE src (id INTEGER, price NUMERIC(12,2), updated_at TIMESTAMP)",
                      [(1, "1.50", stamp(hour(1)))])
    dataset_id = dataset(caller, [("id", "integer"), ("price", "decimal(10,2)"),
                                  ("updated_at", "timestamp")])
    flow = table_flow(caller, db, dataset_id, schemaEvolution="addColumns")
    run = run_once(caller, worker, flow, hour(0), hour(2))
    assert status(run) == "failed"
    message = error(run)["message"]
    assert error(run)["code"] == "CONNECTOR-2003-400"
    assert "column 'id': the source's long cannot become the dataset's integer" in message
    assert "column 'price': the source's decimal(12,2) cannot become the dataset's " \
           "decimal(10,2)" in message
    assert table_version(settings, caller, dataset_id) is None
    assert catalog_fields(caller, dataset_id) == [
        ("id", "integer"), ("price", "decimal(10,2)"), ("updated_at", "timestamp")]


def run_batches(
    data: pa.Schema, rows: list[dict[str, object]], run_id: str
) -> Iterator[pa.RecordBatch]:
    batch = pa.RecordBatch.from_pylist(rows, schema=data)
    yield add_system_columns(batch, run_id, datetime.now(UTC), None)


def read_table(uri: str) -> pa.Table:
    return DeltaTable(uri).to_pyarrow_dataset().to_table(use_threads=False)


def numbers(folder: Path, name: str, modified_hour: int, **columns: pa.Array) -> None:
    parquet_file(folder, name, pa.table(columns), hour(modified_hour))


def test_widenings_are_cast_silently_and_a_later_lossy_file_fails_naming_the_column(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    folder = Path(settings.allowed_file_roots[0]) / "numbers"
    numbers(folder, "a.parquet", 1,
            id=pa.array([1, 2], pa.int64()),
            qty=pa.array([2**31 - 1, -(2**31)], pa.int32()),
            ratio=pa.array([0.5, 1.25], pa.float32()),
            price=pa.array([Decimal("99999999.99"), Decimal("-0.01")], pa.decimal128(10, 2)),
            label=pa.array([10, 20], pa.int16()))
    dataset_id = dataset(caller, [("id", "long"), ("qty", "long"), ("ratio", "double"),
                                  ("price", "decimal(12,2)"), ("label", "string")])
    flow = parquet_flow(caller, folder, dataset_id, schemaEvolution="fail")
    run = run_once(caller, worker, flow, hour(0), hour(2), delta=None)
    assert status(run) == "success", run["metrics"]
    assert table_columns(settings, caller, dataset_id) == {
        "id": pa.int64(), "qty": pa.int64(), "ratio": pa.float64(),
        "price": pa.decimal128(12, 2), "label": pa.string()}
    assert rows(caller, dataset_id, "id") == [
        {"id": 1, "qty": 2**31 - 1, "ratio": 0.5, "price": "99999999.99", "label": "10"},
        {"id": 2, "qty": -(2**31), "ratio": 1.25, "price": "-0.01", "label": "20"},
    ]
    version = table_version(settings, caller, dataset_id)

    numbers(folder, "b.parquet", 3,
            id=pa.array([3], pa.int64()), qty=pa.array([1.5], pa.float64()),
            ratio=pa.array([0.1], pa.float64()), price=pa.array([Decimal("1")],
                                                              pa.decimal128(14, 2)))
    run = run_once(caller, worker, flow, hour(2), hour(4), delta=None)
    assert status(run) == "failed"
    assert error(run)["code"] == "CONNECTOR-2003-400"
    message = error(run)["message"]
    assert "column 'qty': the source's double cannot become the dataset's long" in message
    assert "column 'price': the source's decimal(14,2)" in message
    assert "ratio" not in message
    assert table_version(settings, caller, dataset_id) == version


def test_text_into_a_typed_column_is_parsed_row_by_row(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    db = sqlite_table(Path(settings.allowed_file_roots[0]),
                      "CREATE TABLE src (id INTEGER, amount TEXT, updated_at TIMESTAMP)",
                      [(1, "1.25", stamp(hour(1))), (2, "lots", stamp(hour(2))),
                       (3, "1.255", stamp(hour(3))), (4, None, stamp(hour(4)))])
    dataset_id = dataset(caller, [("id", "long"), ("amount", "decimal(10,2)"),
                                  ("updated_at", "timestamp")])
    flow = table_flow(caller, db, dataset_id, schemaEvolution="fail",
                      errorDiagnosticsEnabled=True, partialIngestionPercent=50)
    run = run_once(caller, worker, flow, hour(0), hour(5))
    assert status(run) == "success", run["metrics"]
    assert [(r["id"], r["amount"]) for r in rows(caller, dataset_id, "id")] == [
        (1, "1.25"), (4, None)]
    reasons = [b["reason"] for b in bad_rows(caller, run["id"])]
    assert len(reasons) == 2 and all("column 'amount'" in r for r in reasons)


@pytest.mark.parametrize("mode", ["append", "replaceWindow", "merge"])
def test_a_schema_merging_commit_stays_exactly_once(tmp_path: Path, mode: str) -> None:
    """The writer's schema merge keeps the run's transaction id: a second attempt of the
    run finds the commit and writes nothing."""
    uri = str(tmp_path / "lake" / "t")
    first = pa.schema([pa.field("id", pa.int64())])
    write_run(WritePlan(uri, "run-1", "append"), with_system_columns(first, file_source=False),
              run_batches(first, [{"id": 1}], "run-1"))
    wider = pa.schema([pa.field("id", pa.int64()), pa.field("note", pa.string())])
    table = existing_table_schema(uri)
    assert table is not None
    full = pa.schema([*table, pa.field("note", pa.string())])
    plan = WritePlan(
        uri, "run-2", mode,  # type: ignore[arg-type]
        replace_predicate="id >= 2" if mode == "replaceWindow" else None,
        merge_keys=("id",) if mode == "merge" else (), merge_schema=True)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in run_batches(wider, [{"id": 2, "note": "n"}], "run-2"):
            yield batch.select(full.names)

    committed = write_run(plan, full, batches())
    assert committed.version == 1 and not committed.already_committed
    again = write_run(plan, full, batches())
    assert again.already_committed and again.version == 1
    assert DeltaTable(uri).version() == 1
    assert sorted((r["id"], r["note"]) for r in read_table(uri).to_pylist()) == [
        (1, None), (2, "n")]


def test_an_attempt_that_finds_its_commit_still_declares_the_new_columns(
    caller: Caller, settings: Settings, worker: Worker
) -> None:
    """The previous attempt committed the new column and died before the catalog update:
    the next attempt writes nothing again and declares the column."""
    flow, dataset_id, version = first_run_then_a_new_column(caller, settings, worker)
    run_id = start_run(caller, flow, hour(4), hour(6))
    uri = str(table_path(settings, caller, dataset_id))
    existing = existing_table_schema(uri)
    assert existing is not None
    full = pa.schema([*existing, pa.field("note", pa.string())])
    data = pa.schema([f for f in full if not f.name.startswith("_sluice_")])
    crashed = write_run(
        WritePlan(uri, run_id, "append", merge_schema=True), full,
        (b.select(full.names) for b in run_batches(
            data, [{"id": 4, "updated_at": hour(4), "note": "note 4"}], run_id)))
    assert crashed.version == version + 1
    assert catalog_fields(caller, dataset_id) == DECLARED
    assert run_all(worker) == 1
    run = get_run(caller, run_id)
    assert status(run) == "success", run["metrics"]
    assert table_version(settings, caller, dataset_id) == version + 1
    assert catalog_fields(caller, dataset_id) == [*DECLARED, ("note", "string")]
