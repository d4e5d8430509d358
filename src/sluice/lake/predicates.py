"""delta-rs (DataFusion SQL) predicates selecting a run window's rows in a Delta table.

The predicate is what a `replaceWindow` write overwrites, so it must select exactly the rows
a source read of the same window produces: half-open `[start, end)`, with zone-less
timestamps and dates read in the column's configured timezone (see `local_bounds`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from sluice.domain.windows import Window

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


def local_bounds(window: Window, timezone: str) -> tuple[datetime, datetime]:
    """The window's ends as naive wall-clock times in `timezone`.

    A zone-less timestamp `v` lies in the window iff `lower <= v < upper`. Around a
    daylight-saving fall-back the repeated wall-clock hour belongs to the window holding
    its later (standard-time) instant; consecutive windows still cover every value once.
    """
    zone = _zone(timezone)
    lower = datetime.fromtimestamp(window.start, zone).replace(tzinfo=None)
    upper = datetime.fromtimestamp(window.end, zone).replace(tzinfo=None)
    return lower, upper


def _first_date_at_or_after(epoch_seconds: int, zone: ZoneInfo) -> date:
    """The earliest date whose local midnight in `zone` is at or after `epoch_seconds`."""
    day = datetime.fromtimestamp(epoch_seconds, zone).date() - timedelta(days=1)
    while datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() < epoch_seconds:
        day += timedelta(days=1)
    return day


def date_bounds(window: Window, timezone: str) -> tuple[date, date]:
    """Dates `d` with `lower <= d < upper` are those whose local midnight lies in the window."""
    zone = _zone(timezone)
    return (
        _first_date_at_or_after(window.start, zone),
        _first_date_at_or_after(window.end, zone),
    )


def _timestamp_literal(text: str, column_type: pa.TimestampType) -> str:
    unit = _ARROW_UNITS[column_type.unit]
    if column_type.tz is not None and not _ZONE_NAME.match(column_type.tz):
        raise ValueError(f"Unsupported timestamp zone '{column_type.tz}'.")
    zone = "None" if column_type.tz is None else f'Some("{column_type.tz}")'
    return f"arrow_cast('{text}', 'Timestamp({unit}, {zone})')"


def _between(column: str, lower: str, upper: str) -> str:
    return f"{column} >= {lower} AND {column} < {upper}"


def window_predicate(column: str, column_type: pa.DataType, window: Window, timezone: str) -> str:
    """Predicate selecting rows whose `column` lies in `window` (half-open).

    Supported column types: timestamps with a zone (instants), timestamps without one (read
    in `timezone`, an IANA name), date32 (a date is in the window iff its local midnight in
    `timezone` is) and int32/int64 epoch seconds. Literals are typed with `arrow_cast` so
    that delta-rs compares like with like (a bare `TIMESTAMP '...'` is nanoseconds and fails).
    """
    name = quote_identifier(column)
    if pa.types.is_timestamp(column_type):
        if column_type.tz is not None:
            lower_text = window.start_datetime.replace(tzinfo=None).isoformat() + "Z"
            upper_text = window.end_datetime.replace(tzinfo=None).isoformat() + "Z"
        else:
            lower, upper = local_bounds(window, timezone)
            lower_text, upper_text = lower.isoformat(), upper.isoformat()
        return _between(
            name,
            _timestamp_literal(lower_text, column_type),
            _timestamp_literal(upper_text, column_type),
        )
    if pa.types.is_date32(column_type):
        first, after = date_bounds(window, timezone)
        return _between(name, f"DATE '{first.isoformat()}'", f"DATE '{after.isoformat()}'")
    if pa.types.is_int32(column_type) or pa.types.is_int64(column_type):
        return _between(name, str(window.start), str(window.end))
    raise ValueError(
        f"Column '{column}' of type {column_type} cannot select a window; use a timestamp, "
        "date or integer (epoch seconds) column."
    )
