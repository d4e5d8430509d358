"""How a backfill's range is cut into chunks: pure calendar arithmetic in UTC.

A chunk spec is `{unit: hour|day|week|month, size}`. The grid starts at the unit boundary at
or before the range's start (the hour, midnight, Monday 00:00 or the 1st of the month, UTC)
and steps `size` units; the chunks are that grid cut to the range. So every boundary inside
the range is a unit boundary, chunks are half-open, contiguous and never overlap, and only
the first and the last chunk may be shorter than `size` units.

    range [2024-01-01T06:00Z, 2024-01-03T00:00Z), {unit: day, size: 1}
      -> [01-01T06:00, 01-02T00:00), [01-02T00:00, 01-03T00:00)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

from sluice.domain.errors import bad_request
from sluice.domain.numbers import whole_number
from sluice.domain.windows import Window

ChunkUnit = Literal["hour", "day", "week", "month"]
CHUNK_UNITS: tuple[ChunkUnit, ...] = ("hour", "day", "week", "month")
MAX_CHUNK_SIZE = 1000
# One backfill's chunks are rows and runs; a plan larger than this is almost always a unit
# mistake (an hourly plan of ten years), and a larger chunk does the same work.
MAX_CHUNKS = 10_000
INVALID_CHUNK = 2301


@dataclass(frozen=True)
class ChunkSpec:
    unit: ChunkUnit
    size: int

    def to_wire(self) -> dict[str, object]:
        return {"unit": self.unit, "size": self.size}


def parse_chunk_spec(raw: object) -> ChunkSpec:
    """`chunk` of a backfill request; a coded 400 (2301) for anything else."""
    if not isinstance(raw, Mapping):
        raise bad_request(
            INVALID_CHUNK, 'chunk must be an object such as {"unit": "day", "size": 1}.'
        )
    unit = raw.get("unit")
    if not isinstance(unit, str) or unit.lower() not in CHUNK_UNITS:
        raise bad_request(
            INVALID_CHUNK, f"chunk.unit {unit!r} is not valid; use hour, day, week or month."
        )
    size = count_option(raw, "size", "chunk.size", maximum=MAX_CHUNK_SIZE, code=INVALID_CHUNK)
    return ChunkSpec(cast(ChunkUnit, unit.lower()), size)


def count_option(
    raw: Mapping[str, object], key: str, shown: str, *, maximum: int, code: int
) -> int:
    """`raw[key]` (1 when absent) as a whole number from 1 to `maximum`; 400 `code` naming it
    as `shown` otherwise."""
    count = whole_number(raw.get(key, 1))
    if count is None or not 1 <= count <= maximum:
        raise bad_request(
            code,
            f"{shown} {raw.get(key)!r} is not valid; give a whole number from 1 to {maximum}.",
        )
    return count


def floor_to_unit(moment: datetime, unit: ChunkUnit) -> datetime:
    """The unit boundary at or before `moment` (UTC): weeks start on Monday (ISO 8601)."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    if unit == "hour":
        return hour
    day = hour.replace(hour=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def add_units(moment: datetime, unit: ChunkUnit, count: int) -> datetime:
    """`moment` plus `count` units; months step from a 1st-of-month boundary."""
    if unit == "hour":
        return moment + timedelta(hours=count)
    if unit == "day":
        return moment + timedelta(days=count)
    if unit == "week":
        return moment + timedelta(weeks=count)
    months = moment.year * 12 + moment.month - 1 + count
    return moment.replace(year=months // 12, month=months % 12 + 1)


def plan_chunks(window: Window, spec: ChunkSpec, *, limit: int = MAX_CHUNKS) -> list[Window]:
    """The chunks of `[window.start, window.end)`, in order; a coded 400 when the range is
    empty or would need more than `limit` chunks."""
    if window.end <= window.start:
        raise bad_request(
            1381,
            f"windowEndTime={window.end} must be after windowStartTime={window.start}; a "
            "backfill needs a non-empty range.",
        )
    end = datetime.fromtimestamp(window.end, UTC)
    boundary = floor_to_unit(datetime.fromtimestamp(window.start, UTC), spec.unit)
    chunks: list[Window] = []
    start = window.start
    while start < window.end:
        if len(chunks) == limit:
            raise bad_request(
                INVALID_CHUNK,
                f"The range needs more than {limit} chunks of {spec.size} {spec.unit}(s); "
                "choose a larger chunk or split the range into several backfills.",
            )
        try:
            boundary = add_units(boundary, spec.unit, spec.size)
        except (OverflowError, ValueError):  # past year 9999: the range's end comes first
            boundary = end
        chunk_end = int(min(boundary, end).timestamp())
        chunks.append(Window(start, chunk_end))
        start = chunk_end
    return chunks
