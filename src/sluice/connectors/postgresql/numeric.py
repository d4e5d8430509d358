"""How `numeric` columns cross the wire: as text, never in PostgreSQL's binary numeric format.

ADBC decodes binary numerics digit group by digit group into text, which Arrow then parses
again into decimals: on the 5M-row benchmark table that took 40 % of the reader's CPU for one
column of ten. The server writes the text form itself for a fraction of that, and Arrow parses
it into `decimal128(p, s)` as before (bench/README.md, "Third round"). Reading the unscaled
value as an int8 instead (`(column * 10^s)::int8`, no parsing at all) saved a little more of
Sluice's CPU but cost PostgreSQL, the limit of a window read, twice as much again.
An unconstrained numeric is rounded by the server to the decimal Sluice lands. A `NaN`
arrives as the text `NaN`, which the reader reports as a bad row (`unrepresentable`).
"""

from __future__ import annotations

import pyarrow as pa

NAN_TEXT = "NaN"


def select_expression(column: str, decimal: pa.DataType | None, constrained: bool) -> str:
    """The read query's expression for a numeric column (`column` already quoted) that lands as
    `decimal` (None: as text); `constrained` when the column's own type has a precision."""
    if decimal is not None and not constrained:
        rounded = f"pg_catalog.numeric({decimal.precision}, {decimal.scale})"
        return f"{column}::{rounded}::pg_catalog.text"
    return f"{column}::pg_catalog.text"
