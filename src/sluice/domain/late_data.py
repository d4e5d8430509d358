"""Late data: a scheduled flow's `settleDelay` and `lookback` options, and the window they
give a tick.

Without them tick k >= 1 reads `[t(k-1), t(k))`. With them it reads

    [t(k-1) - settleDelay - lookback, t(k) - settleDelay)

and is still due at t(k): the window's end is `settleDelay` before the due time, so rows
stamped up to that end have had `settleDelay` to arrive; `lookback` re-reads the tail of
the previous window for rows that arrived later still. Tick 0 of a backfilling schedule
reads `[0, startTime - settleDelay)`. Consecutive windows never leave a gap (each starts
at or before the previous one's end); they overlap by exactly `lookback`, which is why a
lookback needs a write mode that replaces or merges (codes 2311, 2312).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluice.domain.errors import bad_request, refuse_unknown_fields
from sluice.domain.numbers import whole_number
from sluice.domain.windows import Window

LATE_DATA_OPTIONS = ("settleDelay", "lookback")
DURATION_UNITS: Mapping[str, int] = {"minute": 60, "hour": 3600, "day": 86400}
# A week of settling or re-reading is already far more than any source needs; a larger
# value is almost always a unit mistake (minutes given as hours).
MAX_LATE_DATA_SECONDS = 7 * 86400
INVALID_LATE_DATA = 2311
LOOKBACK_NEEDS_IDEMPOTENT_WRITES = 2312


@dataclass(frozen=True)
class LateData:
    """A flow's late-data settings, in seconds (0 = off)."""

    settle_delay: int = 0
    lookback: int = 0

    @property
    def is_off(self) -> bool:
        return self.settle_delay == 0 and self.lookback == 0


def duration_schema(description: str) -> dict[str, Any]:
    """The JSON Schema of `{"value": N, "unit": "minute|hour|day"}` (for the OptionSpec)."""
    return {
        "type": "object",
        "description": description,
        "properties": {
            "value": {"type": "integer", "minimum": 0},
            "unit": {"type": "string", "enum": list(DURATION_UNITS)},
        },
        "required": ["value", "unit"],
        "additionalProperties": False,
    }


def _parse_duration(name: str, raw: object) -> int:
    example = '{"value": 2, "unit": "hour"}'
    if not isinstance(raw, Mapping):
        raise bad_request(INVALID_LATE_DATA, f"options.{name} must be an object such as {example}.")
    refuse_unknown_fields(
        raw,
        ("value", "unit"),
        code=INVALID_LATE_DATA,
        where=f"options.{name}",
        hint=f"give value and unit, such as {example}.",
    )
    unit = raw.get("unit")
    if not isinstance(unit, str) or unit not in DURATION_UNITS:
        raise bad_request(
            INVALID_LATE_DATA,
            f"options.{name}.unit {unit!r} is not valid; use minute, hour or day.",
        )
    value = whole_number(raw.get("value"))
    if value is None or value < 0:
        raise bad_request(
            INVALID_LATE_DATA,
            f"options.{name}.value {raw.get('value')!r} is not valid; give a whole number "
            "of at least 0.",
        )
    seconds = value * DURATION_UNITS[unit]
    if seconds > MAX_LATE_DATA_SECONDS:
        raise bad_request(
            INVALID_LATE_DATA,
            f"options.{name} is {value} {unit}(s); at most 7 days is accepted.",
        )
    return seconds


def parse_late_data(
    options: Mapping[str, Any] | None, *, periodic: bool, write_mode: str, source_kind: str
) -> LateData:
    """Validate a flow's `settleDelay` and `lookback` against its schedule and write mode.

    A lookback re-reads rows an earlier window already landed: `append` would land them
    twice, and a file flow's `replaceWindow` has no column to delimit the window's rows
    with, so a lookback needs `replaceWindow` on a table flow, or `merge` (2312).
    """
    present = [name for name in LATE_DATA_OPTIONS if name in (options or {})]
    if not present:
        return LateData()
    assert options is not None
    if not periodic:
        raise bad_request(
            INVALID_LATE_DATA,
            f"options.{present[0]} applies to periodic schedules only; a 'once' flow has no "
            "tick windows to shift.",
        )
    late = LateData(
        settle_delay=_parse_duration("settleDelay", options["settleDelay"])
        if "settleDelay" in options
        else 0,
        lookback=_parse_duration("lookback", options["lookback"]) if "lookback" in options else 0,
    )
    replaces = write_mode == "replaceWindow" and source_kind == "table"
    if late.lookback and not (replaces or write_mode == "merge"):
        raise bad_request(
            LOOKBACK_NEEDS_IDEMPOTENT_WRITES,
            f"options.lookback re-reads the tail of the previous window, which writeMode "
            f"'{write_mode}' on a {source_kind} flow would land twice; use writeMode "
            "replaceWindow (table flows) or merge with a primaryKey, or remove lookback.",
        )
    return late


def late_data_of(options: object) -> LateData:
    """The settings of an already validated flow; anything unreadable counts as off (the
    scheduler must never fail on a flow written before these options existed)."""
    if not isinstance(options, Mapping):
        return LateData()

    def seconds(raw: object) -> int:
        if not isinstance(raw, Mapping) or raw.get("unit") not in DURATION_UNITS:
            return 0
        value = whole_number(raw.get("value"))
        return 0 if value is None or value < 0 else value * DURATION_UNITS[str(raw["unit"])]

    return LateData(seconds(options.get("settleDelay")), seconds(options.get("lookback")))


def late_window(window: Window, late: LateData, *, first: bool = False) -> Window:
    """The window a tick reads: `window` (the tick's `[t(k-1), t(k))`) shifted back by the
    settle delay and widened back by the lookback. `first` is tick 0's `[0, startTime)`,
    whose start stays 0 (it already covers everything before)."""
    start = window.start if first else window.start - late.settle_delay - late.lookback
    return Window(start, window.end - late.settle_delay)
