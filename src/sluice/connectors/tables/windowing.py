"""Window bounds for a delta column, per the kind of value the column holds.

A run's window is half-open `[start, end)` in epoch seconds. A row belongs to it when its
delta value, read as an instant, lies in the window:

- `timestamptz`: the value is an instant; bounds are aware UTC datetimes.
- `timestamp` (no zone): the value is a wall-clock time in the flow's timezone; bounds are
  the window's instants as naive wall times in that zone. Around a DST fall-back the same
  wall time happens twice, so windows shorter than the shift may overlap there.
- `date`: day `d` is in the window iff `start <= midnight(d, timezone) < end`.
- `epoch`: an integer of seconds since 1970-01-01 UTC.

A bound that `datetime` cannot represent (years outside 1..9999) is `None`: that side of
the window is open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sluice.connectors.errors import TerminalReadError
from sluice.connectors.reading import ReadRequest
from sluice.domain.windows import Window

# A day inside each end of datetime's range, so converting to any zone cannot overflow.
_MIN_EPOCH = int(datetime(1, 1, 3, tzinfo=UTC).timestamp())
_MAX_EPOCH = int(datetime(9999, 12, 29, tzinfo=UTC).timestamp())
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class DeltaKind(StrEnum):
    """How a delta column's values are compared to a window."""

    TIMESTAMPTZ = "timestamptz"
    TIMESTAMP = "timestamp"
    DATE = "date"
    EPOCH = "epoch"


Bound = datetime | date | int


@dataclass(frozen=True)
class Bounds:
    """`lower <= value < upper`; a `None` side is unbounded."""

    lower: Bound | None
    upper: Bound | None


def zone(timezone: str) -> ZoneInfo:
    """The zone named `timezone`; ValueError with a readable message when unknown."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {timezone!r}") from None


def window_bounds(kind: DeltaKind, window: Window, timezone: str = "UTC") -> Bounds:
    """The bounds, in the column's own terms, of the rows whose delta lies in `window`."""
    if kind is DeltaKind.EPOCH:
        lower = window.start if window.start > _INT64_MIN else None
        upper = window.end if window.end <= _INT64_MAX else None
        return Bounds(lower, upper)
    tz = zone(timezone)
    return Bounds(
        None if window.start < _MIN_EPOCH else _convert(kind, min(window.start, _MAX_EPOCH), tz),
        None if window.end > _MAX_EPOCH else _convert(kind, max(window.end, _MIN_EPOCH), tz),
    )


def _convert(kind: DeltaKind, epoch: int, tz: ZoneInfo) -> Bound:
    instant = datetime.fromtimestamp(epoch, UTC)
    if kind is DeltaKind.TIMESTAMPTZ:
        return instant
    local = instant.astimezone(tz)
    if kind is DeltaKind.TIMESTAMP:
        return local.replace(tzinfo=None)
    # The first day whose local midnight is at or after the instant.
    day = local.date()
    if local_midnight(day, tz) < instant:
        day += timedelta(days=1)
    return day


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant `day` starts in `tz` (aware)."""
    return datetime.combine(day, time(), tzinfo=tz)


class WindowedColumn(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def delta_kind(self) -> DeltaKind | None: ...


ColumnT = TypeVar("ColumnT", bound=WindowedColumn)


def select_window(
    table_name: str,
    request: ReadRequest,
    find: Callable[[str], ColumnT | None],
    problem: Callable[[str], str | None],
) -> tuple[ColumnT, DeltaKind, Bounds] | None:
    """The delta column, its kind and the bounds a read's window selects; None for a full read.

    Raises a terminal SourceReadError when the window cannot be applied (no delta column, a
    column that disappeared or changed type since the run was created, a bad time zone).
    """
    if request.window is None:
        return None
    if request.delta_column is None:
        raise TerminalReadError(f'A window of table "{table_name}" needs a delta column.')
    found = problem(request.delta_column)
    if found is not None:
        raise TerminalReadError(found[0].upper() + found[1:] + ".")
    column = find(request.delta_column)
    assert column is not None and column.delta_kind is not None
    try:
        bounds = window_bounds(column.delta_kind, request.window, request.timezone)
    except ValueError as error:
        raise TerminalReadError(f"Cannot read the window: {error}.") from None
    return column, column.delta_kind, bounds
