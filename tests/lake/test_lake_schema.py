"""Dataset column types map to the Arrow types deltalake stores and reads back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from lake_helpers import INGESTED_AT

from sluice.domain.dataset_types import PRIMITIVE_TYPES, normalize_type
from sluice.lake.schema import (
    SYSTEM_COLUMNS,
    add_system_columns,
    arrow_type,
    catalog_schema_to_arrow,
    dataset_type,
    with_system_columns,
)

EXPECTED = {
    "long": pa.int64(),
    "integer": pa.int32(),
    "short": pa.int16(),
    "byte": pa.int8(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
}


def test_every_primitive_type_has_its_arrow_type() -> None:
    assert set(EXPECTED) == PRIMITIVE_TYPES
    for name, expected in EXPECTED.items():
        assert arrow_type(name) == expected
        assert dataset_type(expected) == name


def test_decimals_keep_precision_and_scale() -> None:
    assert arrow_type(normalize_type("DECIMAL(38, 9)")) == pa.decimal128(38, 9)
    assert arrow_type("decimal(5,0)") == pa.decimal128(5, 0)
    assert dataset_type(pa.decimal128(12, 2)) == "decimal(12,2)"


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown dataset column type"):
        arrow_type("varchar")


def test_deltalake_reads_back_exactly_these_types(table_uri: str) -> None:
    fields = [{"name": f"c_{name}", "type": name} for name in sorted(PRIMITIVE_TYPES)]
    fields.append({"name": "c_decimal", "type": "decimal(20,4)"})
    schema = with_system_columns(catalog_schema_to_arrow(fields), file_source=True)
    uri = table_uri
    write_deltalake(uri, schema.empty_table())
    back = pa.schema(DeltaTable(uri).schema().to_arrow())
    assert back.names == schema.names
    assert [f.type for f in back] == [f.type for f in schema]
    nullable = {f.name: f.nullable for f in DeltaTable(uri).schema().fields}
    assert nullable["_sluice_run_id"] is False
    assert nullable["_sluice_ingested_at"] is False
    assert nullable["_sluice_source_file"] is True


def test_catalog_schema_keeps_nullability() -> None:
    schema = catalog_schema_to_arrow(
        [
            {"name": "id", "type": "long", "nullable": False},
            {"name": "Amount EUR", "type": "decimal(10,2)", "nullable": True},
            {"name": "note", "type": "string"},
        ]
    )
    assert schema == pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("Amount EUR", pa.decimal128(10, 2)),
            pa.field("note", pa.string()),
        ]
    )


def test_system_columns() -> None:
    assert [(f.name, f.type, f.nullable) for f in SYSTEM_COLUMNS] == [
        ("_sluice_run_id", pa.string(), False),
        ("_sluice_ingested_at", pa.timestamp("us", tz="UTC"), False),
        ("_sluice_source_file", pa.string(), True),
    ]
    data = pa.schema([("a", pa.int64())])
    assert with_system_columns(data, file_source=False).names == [
        "a",
        "_sluice_run_id",
        "_sluice_ingested_at",
    ]
    assert with_system_columns(data, file_source=True).names[-1] == "_sluice_source_file"
    with pytest.raises(ValueError, match="system columns"):
        with_system_columns(with_system_columns(data, file_source=False), file_source=False)


def test_add_system_columns_matches_the_schema() -> None:
    data = pa.schema([("a", pa.int64()), ("b", pa.decimal128(5, 2))])
    batch = pa.RecordBatch.from_pylist([{"a": 1, "b": Decimal("1.50")}, {"a": 2}], schema=data)
    paris = timezone(timedelta(hours=2))
    table_batch = add_system_columns(batch, "run-1", INGESTED_AT.astimezone(paris), None)
    assert table_batch.schema.equals(with_system_columns(data, file_source=False))
    assert table_batch.column("_sluice_run_id").to_pylist() == ["run-1", "run-1"]
    assert table_batch.column("_sluice_ingested_at").to_pylist() == [INGESTED_AT] * 2
    file_batch = add_system_columns(batch, "run-1", INGESTED_AT, "in/a.csv")
    assert file_batch.schema.equals(with_system_columns(data, file_source=True))
    assert file_batch.column("_sluice_source_file").to_pylist() == ["in/a.csv"] * 2
    empty = add_system_columns(pa.RecordBatch.from_pylist([], schema=data), "r", INGESTED_AT, None)
    assert empty.num_rows == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        add_system_columns(batch, "r", datetime(2024, 1, 1), None)
