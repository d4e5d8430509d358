"""delta-rs (DataFusion SQL) predicates selecting a run window's rows in a Delta table.

The predicate is what a `replaceWindow` write overwrites, so it must select exactly the rows
a source read of the same window produces: half-open `[start, end)`, with zone-less
timestamps and dates read in the column's configured timezone. The bounds come from
`domain.windows.window_bounds`, the function source reads filter with.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from sluice.domain.windows import Bounds, DeltaKind, Window, window_bounds

_ZONE_NAME = re.compile(r"^[A-Za-z0-9_/+:-]+$")
_ARROW_UNITS = {"s": "Second", "ms": "Millisecond", "us": "Microsecond", "ns": "Nanosecond"}


def quote_identifier(name: str) -> str:
    """`name` as an SQL identifier: double quotes, inner double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"Unknown timezone '{timezone}'.") from error


def _bounds(kind: DeltaKind, window: Window, timezone: str) -> Bounds:
    _zone(timezone)  # this module's message for an unknown zone
    return window_bounds(kind, window, timezone)


def local_bounds(window: Window, timezone: str) -> tuple[datetime | None, datetime | None]:
    """The window's ends as naive wall-clock times in `timezone` (`domain.windows`).

    A zone-less timestamp `v` lies in the window iff `lower <= v < upper`; None is open.
    """
    bounds = _bounds(DeltaKind.TIMESTAMP, window, timezone)
    return cast(datetime | None, bounds.lower), cast(datetime | None, bounds.upper)


def date_bounds(window: Window, timezone: str) -> tuple[date | None, date | None]:
    """Dates `d` with `lower <= d < upper` are those whose local midnight lies in the window."""
    bounds = _bounds(DeltaKind.DATE, window, timezone)
    return cast(date | None, bounds.lower), cast(date | None, bounds.upper)


def _timestamp_literal(text: str, column_type: pa.TimestampType) -> str:
    unit = _ARROW_UNITS[column_type.unit]
    if column_type.tz is not None and not _ZONE_NAME.match(column_type.tz):
        raise ValueError(f"Unsupported timestamp zone '{column_type.tz}'.")
    zone = "None" if column_type.tz is None else f'Some("{column_type.tz}")'
    return f"arrow_cast('{text}', 'Timestamp({unit}, {zone})')"


def _timestamp_bound(bound: object, column_type: pa.TimestampType) -> str | None:
    if not isinstance(bound, datetime):
        return None
    if bound.tzinfo is not None:  # an instant: written in UTC with a Z
        text = bound.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    else:
        text = bound.isoformat()
    return _timestamp_literal(text, column_type)


def _between(column: str, lower: str | None, upper: str | None) -> str:
    """`lower <= column < upper`; a None side (beyond datetime's range) is left open."""
    sides = [
        f"{column} >= {lower}" if lower is not None else "",
        f"{column} < {upper}" if upper is not None else "",
    ]
    return " AND ".join(side for side in sides if side) or "TRUE"


def window_predicate(column: str, column_type: pa.DataType, window: Window, timezone: str) -> str:
    """Predicate selecting rows whose `column` lies in `window` (half-open).

    Supported column types: timestamps with a zone (instants), timestamps without one (read
    in `timezone`, an IANA name), date32 (a date is in the window iff its local midnight in
    `timezone` is) and int32/int64 epoch seconds. Literals are typed with `arrow_cast` so
    that delta-rs compares like with like (a bare `TIMESTAMP '...'` is nanoseconds and fails).
    """
    name = quote_identifier(column)
    if pa.types.is_timestamp(column_type):
        kind = DeltaKind.TIMESTAMPTZ if column_type.tz is not None else DeltaKind.TIMESTAMP
        bounds = _bounds(kind, window, timezone)
        return _between(
            name,
            *(_timestamp_bound(bound, column_type) for bound in (bounds.lower, bounds.upper)),
        )
    if pa.types.is_date32(column_type):
        first, after = date_bounds(window, timezone)
        return _between(
            name, *(None if d is None else f"DATE '{d.isoformat()}'" for d in (first, after))
        )
    if pa.types.is_int32(column_type) or pa.types.is_int64(column_type):
        bounds = window_bounds(DeltaKind.EPOCH, window)
        return _between(
            name, *(None if b is None else str(b) for b in (bounds.lower, bounds.upper))
        )
    raise ValueError(
        f"Column '{column}' of type {column_type} cannot select a window; use a timestamp, "
        "date or integer (epoch seconds) column."
    )
