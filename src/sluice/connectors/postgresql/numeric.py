"""How `numeric` columns cross the wire: never in PostgreSQL's binary numeric format.

ADBC decodes binary numerics digit group by digit group into text, which Arrow then parses
again into decimals: on the 5M-row benchmark table that took 40 % of the reader's CPU for one
column of ten (bench/README.md, "Third round"). So a `numeric(p, s)` with p <= 18 is read as
its unscaled integer, `(column * 10^s)::int8` (exact: its values have s decimals and fewer than
19 digits), and becomes `decimal128(p, s)` by reinterpreting the integers, no parsing at all.
Wider numerics are read as text, which the server writes faster than the driver decodes the
binary form, and parsed into decimals by Arrow. A `NaN` cannot be an int8: the query turns it
into `NAN_SCALED`, a value no numeric(18) can reach, and the reader reports such rows as bad
rows (`unrepresentable`), as it does for the text `NaN`.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

MAX_SCALED_PRECISION = 18  # 10^18 - 1 < 2^63: every numeric(18, s) fits an int8 unscaled
NAN_SCALED = -(2**63)
NAN_TEXT = "NaN"
_WIDE = pa.decimal128(38, 0)  # the integers as decimals of the same storage, then re-scaled


def is_scaled(decimal: pa.DataType) -> bool:
    """Whether a numeric landing as `decimal` is read as its unscaled int8."""
    return bool(pa.types.is_decimal128(decimal)) and decimal.precision <= MAX_SCALED_PRECISION


def select_expression(column: str, decimal: pa.DataType | None, constrained: bool) -> str:
    """The read query's expression for a numeric column (`column` already quoted) that lands as
    `decimal` (None: as text); `constrained` when the column's own type has a precision."""
    if decimal is None:
        return f"{column}::pg_catalog.text"
    if not constrained:  # rounded by the server to the decimal Sluice lands
        rounded = f"pg_catalog.numeric({decimal.precision}, {decimal.scale})"
        return f"{column}::{rounded}::pg_catalog.text"
    if not is_scaled(decimal):
        return f"{column}::pg_catalog.text"
    scaled = column if decimal.scale == 0 else f"({column} * 1e{decimal.scale})"
    return (
        f"CASE WHEN {column} = 'NaN'::pg_catalog.numeric THEN '{NAN_SCALED}'::pg_catalog.int8"
        f" ELSE {scaled}::pg_catalog.int8 END"
    )


def from_scaled(array: pa.Array, decimal: pa.DataType) -> pa.Array:
    """The unscaled int8s of a numeric column as `decimal` (same digits, no parsing)."""
    wide = pc.cast(array, _WIDE)  # exact: every int64 fits 38 digits
    return wide.view(decimal)


def unscale(batch: pa.RecordBatch, scaled: dict[int, pa.DataType]) -> pa.RecordBatch:
    """`batch` with its scaled numeric columns (position -> decimal type) as decimals."""
    if not scaled:
        return batch
    arrays = list(batch.columns)
    fields = list(batch.schema)
    for index, decimal in scaled.items():
        arrays[index] = from_scaled(arrays[index], decimal)
        fields[index] = fields[index].with_type(decimal)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
