"""The map stage: columns matched by name, types cast, uncastable rows reported as bad rows."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

from sluice.engine.mapping import BatchMapper

TARGET = pa.schema(
    [
        pa.field("id", pa.int64()),
        pa.field("amount", pa.decimal128(10, 2)),
        pa.field("missing", pa.string()),
    ]
)


def test_matching_columns_pass_through_and_missing_ones_are_null() -> None:
    batch = pa.record_batch(
        {
            "ID": pa.array([1, 2], pa.int64()),
            "amount": pa.array([Decimal("1.50"), None], pa.decimal128(10, 2)),
            "extra": ["x", "y"],
        }
    )
    mapped = BatchMapper(TARGET).map(batch, 0)
    assert mapped.bad_rows == []
    assert mapped.batch.schema == TARGET
    assert mapped.batch.to_pylist() == [
        {"id": 1, "amount": Decimal("1.50"), "missing": None},
        {"id": 2, "amount": None, "missing": None},
    ]


def test_uncastable_values_become_bad_rows_with_their_reason() -> None:
    batch = pa.record_batch(
        {
            "id": ["1", "two", "3"],
            "amount": ["1.5", "2", "x"],
            "_sluice_source_file": ["a.csv", "a.csv", "a.csv"],
        }
    )
    mapper = BatchMapper(TARGET, location_column="_sluice_source_file")
    mapped = mapper.map(batch, 10)
    assert mapped.batch.to_pylist() == [{"id": 1, "amount": Decimal("1.50"), "missing": None}]
    assert [b.location for b in mapped.bad_rows] == ["a.csv: row 12", "a.csv: row 13"]
    assert "column 'id'" in mapped.bad_rows[0].reason
    assert "column 'amount'" in mapped.bad_rows[1].reason
    assert mapped.bad_rows[0].raw is not None and "two" in mapped.bad_rows[0].raw
