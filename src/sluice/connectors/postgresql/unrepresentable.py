"""PostgreSQL values no Arrow or Delta value can hold, turned into coded bad rows instead of
landing as garbage: `infinity` / `-infinity` timestamps and dates, and numeric `NaN`.

The ADBC driver shifts PostgreSQL's timestamp and date sentinels (the extreme int64
microseconds, int32 days since 2000-01-01) to the Unix epoch with wrapping arithmetic, so they
arrive as values near the minimum of their type: around year -290000 for timestamps, -5.8
million for dates. Real PostgreSQL values never come near (its range starts in 4713 BC), so
anything below the thresholds is a sentinel. A numeric `NaN` arrives as the text `NaN`
(numerics are read as text, see `numeric`); in a numeric too wide for a decimal, which lands
as text, it is a value like any other. Such rows leave the batch and are reported as bad rows
with the code CONNECTOR-2003 and the column; `partialIngestionPercent` decides the run as for
any bad row.
"""

from __future__ import annotations

from collections.abc import Collection

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.postgresql.numeric import NAN_TEXT
from sluice.connectors.reading import BadRow

UNREPRESENTABLE_VALUE = "CONNECTOR-2003"
# Far below PostgreSQL's earliest value (4713 BC is about -2.1e17 us, -2.4e6 days).
_TIMESTAMP_FLOOR_US = -(10**18)
_DATE_FLOOR_DAYS = -(10**8)
# What the driver's wrapped arithmetic makes of each sentinel (adbc-driver-postgresql 1.x).
_NAMES = {
    -9222425352054775809: "infinity",
    -9222425352054775808: "-infinity",
    -2147472692: "infinity",
    -2147472691: "-infinity",
}


def _storage(array: pa.Array) -> pa.Array:
    return array.storage if isinstance(array, pa.ExtensionArray) else array


def _sentinels(array: pa.Array, decimal: bool) -> pa.Array | None:
    """Where `array` holds a sentinel, or None for a type that has none."""
    if decimal:
        return pc.equal(array, pa.scalar(NAN_TEXT, array.type))
    if pa.types.is_timestamp(array.type):
        return pc.less(array.cast(pa.int64()), _TIMESTAMP_FLOOR_US)
    if pa.types.is_date32(array.type):
        return pc.less(array.cast(pa.int32()), _DATE_FLOOR_DAYS)
    return None


def drop_unrepresentable(
    batch: pa.RecordBatch,
    table_name: str,
    first_row: int,
    bad_rows: list[BadRow],
    decimal_columns: Collection[str] = (),
) -> pa.RecordBatch:
    """`batch` without its rows holding an infinite timestamp or date, or a NaN in one of the
    `decimal_columns` (numerics landing as decimals, read as text); each such row appended to
    `bad_rows`, located by its position in the read (`first_row` is the batch's first)."""
    flagged: pa.Array | None = None
    columns: list[tuple[str, pa.Array, pa.Array]] = []
    for name, array in zip(batch.schema.names, batch.columns, strict=True):
        storage = _storage(array)
        mask = _sentinels(storage, name in decimal_columns)
        if mask is None or not pc.any(mask).as_py():
            continue
        columns.append((name, storage, mask))
        flagged = mask if flagged is None else pc.or_(flagged, mask)
    if flagged is None:
        return batch
    for index in pc.indices_nonzero(flagged).to_pylist():
        found = [
            f'"{name}" = {_describe(storage, index)}'
            for name, storage, mask in columns
            if mask[index].as_py()
        ]
        bad_rows.append(
            BadRow(
                reason=f"{UNREPRESENTABLE_VALUE}: PostgreSQL value in column "
                f"{', '.join(found)} that no Delta value can hold",
                location=f"{table_name}:row {first_row + index + 1}",
            )
        )
    return batch.filter(pc.invert(pc.fill_null(flagged, False)))


def _describe(storage: pa.Array, index: int) -> str:
    if pa.types.is_string(storage.type):
        return NAN_TEXT
    kind = pa.int64() if pa.types.is_timestamp(storage.type) else pa.int32()
    value = storage.cast(kind)[index].as_py()
    return _NAMES.get(value, "an out-of-range value")
