"""The pure rules: which type changes widen, which are checked per value, which lose data;
and how incoming columns meet the dataset's under each schemaEvolution option."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from sluice.domain.casting import cast_scalar, cast_values
from sluice.domain.type_changes import TypeChange, classify
from sluice.engine.schema_evolution import (
    LOSSY_TYPE_CHANGE,
    NEW_COLUMNS_REFUSED,
    SchemaEvolutionError,
    evolve,
)
from sluice.lake.schema import SYSTEM_COLUMNS

WIDEN, CHECKED, LOSSY, SAME = (
    TypeChange.WIDEN,
    TypeChange.CHECKED,
    TypeChange.LOSSY,
    TypeChange.SAME,
)
UTC_US = pa.timestamp("us", tz="UTC")


@pytest.mark.parametrize(
    ("source", "target", "change"),
    [
        (pa.int64(), pa.int64(), SAME),
        (pa.int32(), pa.int64(), WIDEN),
        (pa.int8(), pa.int16(), WIDEN),
        (pa.int64(), pa.int32(), LOSSY),
        (pa.uint32(), pa.int64(), WIDEN),
        (pa.uint32(), pa.int32(), LOSSY),
        (pa.uint64(), pa.int64(), CHECKED),
        (pa.int32(), pa.float64(), WIDEN),
        (pa.int64(), pa.float64(), LOSSY),
        (pa.int32(), pa.float32(), LOSSY),
        (pa.int32(), pa.decimal128(10, 0), WIDEN),
        (pa.int32(), pa.decimal128(10, 2), LOSSY),
        (pa.int64(), pa.decimal128(21, 2), WIDEN),
        (pa.float32(), pa.float64(), WIDEN),
        (pa.float64(), pa.float32(), LOSSY),
        (pa.float64(), pa.int64(), LOSSY),
        (pa.float64(), pa.decimal128(38, 10), LOSSY),
        (pa.decimal128(10, 2), pa.decimal128(12, 2), WIDEN),
        (pa.decimal128(10, 2), pa.decimal128(12, 4), WIDEN),
        (pa.decimal128(12, 2), pa.decimal128(10, 2), LOSSY),
        (pa.decimal128(10, 2), pa.decimal128(10, 3), LOSSY),
        (pa.decimal128(10, 4), pa.decimal128(10, 2), LOSSY),
        (pa.decimal128(18, 0), pa.int64(), WIDEN),
        (pa.decimal128(19, 0), pa.int64(), LOSSY),
        (pa.decimal128(10, 2), pa.float64(), LOSSY),
        (pa.date32(), UTC_US, WIDEN),
        (pa.date32(), pa.timestamp("us"), WIDEN),
        (UTC_US, pa.date32(), LOSSY),
        (pa.timestamp("us"), UTC_US, WIDEN),
        (pa.timestamp("ms", tz="UTC"), UTC_US, WIDEN),
        (pa.timestamp("ns"), pa.timestamp("us"), CHECKED),
        (pa.string(), pa.int64(), CHECKED),
        (pa.large_string(), UTC_US, CHECKED),
        (pa.int64(), pa.string(), WIDEN),
        (pa.struct([("a", pa.int64())]), pa.string(), WIDEN),
        (pa.bool_(), pa.int64(), LOSSY),
        (pa.binary(), pa.int64(), LOSSY),
        (pa.null(), pa.int64(), WIDEN),
        (pa.dictionary(pa.int32(), pa.string()), pa.string(), WIDEN),
    ],
)
def test_type_changes(source: pa.DataType, target: pa.DataType, change: TypeChange) -> None:
    verdict = classify(source, target)
    assert verdict.change is change
    assert bool(verdict.reason) == (change is LOSSY)


def test_every_widening_casts_without_loss_at_the_extremes() -> None:
    """The rules promise what the casts then do: the widest values of each source survive."""
    cases = [
        (pa.array([2**63 - 1, -(2**63)], pa.int64()), pa.decimal128(21, 2)),
        (pa.array([2**31 - 1], pa.int32()), pa.float64()),
        (pa.array([Decimal("99999999.99")], pa.decimal128(10, 2)), pa.decimal128(12, 4)),
        (pa.array([10**18 - 1], pa.decimal128(18, 0)), pa.int64()),
        (pa.array([1, None], pa.date32()), UTC_US),
    ]
    for values, target in cases:
        assert classify(values.type, target).change is WIDEN
        back = cast_values(cast_values(values, target), values.type)
        assert back.equals(values), (values.type, target)


def test_checked_casts_refuse_values_that_do_not_fit() -> None:
    with pytest.raises(pa.ArrowInvalid):
        cast_values(pa.array([1.255]), pa.decimal128(10, 2))  # Arrow alone would round it
    assert cast_values(pa.array([1.25]), pa.decimal128(10, 2)).to_pylist() == [Decimal("1.25")]
    with pytest.raises(pa.ArrowInvalid):
        cast_values(pa.array([2**64 - 1], pa.uint64()), pa.int64())
    texts = ["2024-01-02 03:04:05", "2024-01-02T03:04:05+02:00"]  # zone-less text is UTC
    stamps = [cast_values(pa.array([text]), UTC_US)[0].as_py().isoformat() for text in texts]
    assert stamps == ["2024-01-02T03:04:05+00:00", "2024-01-02T01:04:05+00:00"]
    assert cast_values(pa.array([{"a": [1, 2]}]), pa.string()).to_pylist() == ['{"a":[1,2]}']
    assert cast_scalar(5, pa.decimal128(10, 2)).as_py() == Decimal("5.00")
    with pytest.raises(ValueError, match="not a valid date"):
        cast_scalar("soon", pa.date32())


DATASET = pa.schema([pa.field("id", pa.int64()), pa.field("amount", pa.decimal128(12, 2))])
TABLE = pa.schema([*DATASET, *SYSTEM_COLUMNS[:2]])


def test_new_columns_are_added_by_default_and_merged_into_the_table() -> None:
    incoming = pa.schema(
        [pa.field("ID", pa.int32()), pa.field("amount", pa.decimal128(10, 2)),
         pa.field("note", pa.large_string())]
    )
    evolution = evolve(incoming, table=TABLE, catalog=None, option="addColumns")
    assert evolution.data_schema.names == ["id", "amount", "note"]
    assert evolution.data_schema.field("note").type == pa.string()
    assert [f.name for f in evolution.added] == ["note"]
    assert evolution.write_schema.names == ["id", "amount", *TABLE.names[2:], "note"]
    assert evolution.merge_schema


def test_frozen_drops_new_columns_and_fail_refuses_them() -> None:
    incoming = pa.schema([pa.field("id", pa.int64()), pa.field("note", pa.string())])
    frozen = evolve(incoming, table=TABLE, catalog=None, option="frozen")
    assert frozen.data_schema == DATASET
    assert frozen.dropped == ("note",)
    assert frozen.write_schema == TABLE
    assert not frozen.merge_schema
    with pytest.raises(SchemaEvolutionError) as refused:
        evolve(incoming, table=TABLE, catalog=None, option="fail")
    assert refused.value.code == NEW_COLUMNS_REFUSED
    assert "'note' (string)" in refused.value.message


def test_lossy_type_changes_fail_whatever_the_option() -> None:
    incoming = pa.schema([pa.field("id", pa.float64()), pa.field("amount", pa.decimal128(14, 2))])
    for option in ("addColumns", "frozen", "fail"):
        with pytest.raises(SchemaEvolutionError) as refused:
            evolve(incoming, table=TABLE, catalog=None, option=option)
        assert refused.value.code == LOSSY_TYPE_CHANGE
        message = refused.value.message
        assert "column 'id': the source's double cannot become the dataset's long" in message
        assert "column 'amount'" in message and "decimal(14,2)" in message


def test_text_is_parsed_not_a_type_change() -> None:
    incoming = pa.schema([pa.field("id", pa.float64())])
    evolution = evolve(incoming, table=TABLE, catalog=None, option="fail", untyped={"id"})
    assert evolution.data_schema == DATASET


def test_declared_columns_count_as_known_and_the_first_run_defines_an_empty_dataset() -> None:
    catalog = pa.schema([pa.field("id", pa.int64()), pa.field("region", pa.string())])
    incoming = pa.schema([pa.field("id", pa.int64()), pa.field("region", pa.string())])
    frozen = evolve(incoming, table=TABLE, catalog=catalog, option="fail")
    assert frozen.data_schema.names == ["id", "amount", "region"]
    assert frozen.merge_schema  # the table gains the declared column
    fresh = evolve(incoming, table=None, catalog=None, option="frozen", file_source=True)
    assert fresh.data_schema == incoming
    assert fresh.write_schema.names == ["id", "region", *(f.name for f in SYSTEM_COLUMNS)]
    assert not fresh.merge_schema
