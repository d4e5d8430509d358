"""Casting a column of values to a dataset column's type without losing any of them.

`cast_values` casts a whole column (or one value) or raises. Besides Arrow's
own safe casts it knows a few routes Arrow lacks: nested values become JSON text, zone-less
timestamp text is read as UTC, integers reach decimals through a wide decimal, and a float
only becomes a decimal when no digit is rounded away.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sluice.domain.type_changes import is_text, type_name

CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError)
# Every integer (uint64 included) fits in 38 digits with no scale.
_WIDE_DECIMAL = pa.decimal128(38, 0)


def _is_nested(kind: pa.DataType) -> bool:
    return bool(pa.types.is_nested(kind) or pa.types.is_map(kind))


def json_text(values: pa.Array) -> pa.Array:
    """Nested values as compact JSON text (decimals and times as their text)."""
    return pa.array(
        [
            None if v is None else json.dumps(v, default=str, separators=(",", ":"))
            for v in values.to_pylist()
        ],
        pa.string(),
    )


def _float_to_decimal(values: pa.Array, target: pa.DataType) -> pa.Array:
    # Arrow rounds floats into decimals silently: cast back and compare to catch it.
    result = pc.cast(values, target, safe=True)
    changed = pc.fill_null(pc.not_equal(pc.cast(result, values.type), values), False)
    if pc.any(changed).as_py():
        first = values.filter(changed)[0].as_py()
        raise pa.ArrowInvalid(f"{first!r} does not fit {type_name(target)} without rounding")
    return result


def cast_values(values: pa.Array, target: pa.DataType) -> pa.Array:
    """`values` as `target`, every value kept exactly; raises one of CAST_ERRORS otherwise."""
    source = values.type
    if source.equals(target):
        return values
    if pa.types.is_dictionary(source):
        return cast_values(values.dictionary_decode(), target)
    if _is_nested(source) and is_text(target):
        return pc.cast(json_text(values), target)
    if pa.types.is_integer(source) and pa.types.is_decimal(target):
        values = pc.cast(values, _WIDE_DECIMAL)
    if pa.types.is_floating(source) and pa.types.is_decimal(target):
        return _float_to_decimal(values, target)
    if is_text(source) and pa.types.is_timestamp(target) and target.tz is not None:
        try:
            return pc.cast(values, target, safe=True)
        except pa.ArrowInvalid:
            naive = pc.cast(values, pa.timestamp(target.unit), safe=True)
            return pc.cast(naive, target, safe=True)
    return pc.cast(values, target, safe=True)


def cast_scalar(value: Any, target: pa.DataType) -> pa.Scalar:
    """A JSON scalar (a constant or a default) as `target`; raises ValueError if it does not
    fit, saying why."""
    try:
        return cast_values(pa.array([value]), target)[0]
    except (*CAST_ERRORS, TypeError) as error:
        reason = str(error).split("\n")[0]
        raise ValueError(f"{value!r} is not a valid {type_name(target)} ({reason})") from None
