"""Which column type changes a run may make silently, which it checks value by value, and
which it must refuse because data would be lost.

The rules follow Delta Lake's type widening: integers widen to wider integers, to `double`
(up to 32 bits) and to decimals with enough integer digits; `float` widens to `double`;
decimals widen when neither integer digits nor scale shrink; `date` widens to timestamps.
Anything may be stored as `string`. Text is not a type change: a string value is parsed into
the column's type row by row, and a value that does not parse makes a bad row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pyarrow as pa


class TypeChange(enum.Enum):
    SAME = "same"  # nothing to do
    WIDEN = "widen"  # lossless: cast silently
    CHECKED = "checked"  # cast value by value; a value that does not fit is a bad row
    LOSSY = "lossy"  # some values cannot be represented: the run must fail


@dataclass(frozen=True)
class Verdict:
    change: TypeChange
    reason: str = ""


# Decimal digits any value of an integer type may need.
_INTEGER_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19}


def type_name(kind: pa.DataType) -> str:
    """A column type as a person reads it: the dataset type names where one exists."""
    names = {
        pa.string(): "string",
        pa.large_string(): "string",
        pa.int64(): "long",
        pa.int32(): "integer",
        pa.int16(): "short",
        pa.int8(): "byte",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.bool_(): "boolean",
        pa.binary(): "binary",
        pa.large_binary(): "binary",
        pa.date32(): "date",
    }
    if kind in names:
        return names[kind]
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision},{kind.scale})"
    if pa.types.is_timestamp(kind):
        return "timestamp" if kind.tz is not None else "timestamp_ntz"
    return str(kind)


def is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _integer_digits(kind: pa.DataType) -> int:
    digits = _INTEGER_DIGITS[kind.bit_width]
    # uint64 reaches 18446744073709551615: one digit more than int64.
    return digits + 1 if pa.types.is_unsigned_integer(kind) and kind.bit_width == 64 else digits


def _integer_to_integer(source: pa.DataType, target: pa.DataType) -> TypeChange:
    source_signed = pa.types.is_signed_integer(source)
    target_signed = pa.types.is_signed_integer(target)
    if source_signed == target_signed:
        return TypeChange.WIDEN if target.bit_width >= source.bit_width else TypeChange.LOSSY
    if not source_signed and target.bit_width > source.bit_width:
        return TypeChange.WIDEN
    if not source_signed and source.bit_width == 64 and target.bit_width == 64:
        # Delta has no unsigned types: uint64 columns are stored as long, checked per value.
        return TypeChange.CHECKED
    return TypeChange.LOSSY


def _from_integer(source: pa.DataType, target: pa.DataType) -> TypeChange:
    if pa.types.is_integer(target):
        return _integer_to_integer(source, target)
    if pa.types.is_floating(target):
        mantissa_bits = {16: 11, 32: 24, 64: 53}[target.bit_width]
        value_bits = source.bit_width - (1 if pa.types.is_signed_integer(source) else 0)
        return TypeChange.WIDEN if value_bits <= mantissa_bits else TypeChange.LOSSY
    if pa.types.is_decimal(target):
        room = target.precision - target.scale
        return TypeChange.WIDEN if room >= _integer_digits(source) else TypeChange.LOSSY
    return TypeChange.LOSSY


def _from_decimal(source: pa.DataType, target: pa.DataType) -> TypeChange:
    if pa.types.is_decimal(target):
        keeps_scale = target.scale >= source.scale
        keeps_digits = target.precision - target.scale >= source.precision - source.scale
        return TypeChange.WIDEN if keeps_scale and keeps_digits else TypeChange.LOSSY
    if pa.types.is_integer(target) and pa.types.is_signed_integer(target) and source.scale == 0:
        fits = source.precision < _INTEGER_DIGITS[target.bit_width]
        return TypeChange.WIDEN if fits else TypeChange.LOSSY
    return TypeChange.LOSSY


def _from_temporal(source: pa.DataType, target: pa.DataType) -> TypeChange:
    if pa.types.is_date32(source) and (pa.types.is_timestamp(target) or pa.types.is_date(target)):
        return TypeChange.WIDEN
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(target):
        units = ["s", "ms", "us", "ns"]
        if units.index(target.unit) >= units.index(source.unit):
            # A zone-less timestamp is read as UTC, which is how it was written.
            return TypeChange.WIDEN
        # Delta stores microseconds: finer source values are kept if they fit, else bad rows.
        return TypeChange.CHECKED
    return TypeChange.LOSSY


def classify(source: pa.DataType, target: pa.DataType) -> Verdict:
    """How values of `source` type are stored in a column of `target` type."""
    if source.equals(target):
        return Verdict(TypeChange.SAME)
    if pa.types.is_dictionary(source):
        decoded = classify(source.value_type, target)
        return Verdict(TypeChange.WIDEN) if decoded.change is TypeChange.SAME else decoded
    if pa.types.is_null(source) or is_text(target):
        return Verdict(TypeChange.WIDEN)
    if is_text(source):
        return Verdict(TypeChange.CHECKED)
    if pa.types.is_binary(target) or pa.types.is_large_binary(target):
        binary = pa.types.is_binary(source) or pa.types.is_large_binary(source)
        change = TypeChange.WIDEN if binary else TypeChange.LOSSY
    elif pa.types.is_integer(source):
        change = _from_integer(source, target)
    elif pa.types.is_floating(source):
        widens = pa.types.is_floating(target) and target.bit_width >= source.bit_width
        change = TypeChange.WIDEN if widens else TypeChange.LOSSY
    elif pa.types.is_decimal(source):
        change = _from_decimal(source, target)
    elif pa.types.is_temporal(source):
        change = _from_temporal(source, target)
    else:
        change = TypeChange.LOSSY
    if change is not TypeChange.LOSSY:
        return Verdict(change)
    return Verdict(
        TypeChange.LOSSY,
        f"{type_name(source)} values cannot be stored as {type_name(target)} without losing data",
    )
