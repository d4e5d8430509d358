"""Time windows of runs: half-open `[start, end)` in epoch seconds, and their bounds in a
delta column's own terms.

`window_bounds` is the one rule for which rows a window selects: source reads filter with
it and the lake's `replaceWindow` predicates delete with it, so the two cannot disagree.
A row belongs to a window when its delta value, read as an instant, lies in it:

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

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Window:
    start: int
    end: int

    def contains(self, epoch_seconds: float) -> bool:
        return self.start <= epoch_seconds < self.end

    @property
    def start_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)

    @property
    def end_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.end, UTC)


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


def split_window(window: Window, parts: int, timezone: str = "UTC") -> list[Window]:
    """`window` cut into at most `parts` contiguous half-open windows of about equal length,
    whose union selects exactly the rows `window` selects, for every delta kind.

    Each piece's lower bound is its neighbour's upper bound (one `window_bounds` rule), so no
    row is read twice or missed; cut points stay inside the range every kind can represent
    (an open side stays with the first or last piece). Zone-less timestamps compare wall
    times, which go back at a DST fall-back: when a cut's wall time would not lie strictly
    between its neighbours', the window is not cut at all.
    """
    low, high = max(window.start, _MIN_EPOCH), min(window.end, _MAX_EPOCH)
    if parts <= 1 or high - low < parts:
        return [window]
    cuts = [low + (high - low) * i // parts for i in range(1, parts)]
    try:
        tz = zone(timezone)
    except ValueError:
        return [window]  # the read reports the bad zone
    walls = [datetime.fromtimestamp(edge, tz).replace(tzinfo=None) for edge in (low, *cuts, high)]
    if any(a >= b for a, b in pairwise(walls)):
        return [window]
    return [Window(a, b) for a, b in pairwise([window.start, *cuts, window.end])]


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
