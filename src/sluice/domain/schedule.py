"""A flow's schedule (`scheduleParams`): parsing, change rules and tick arithmetic.

Codes are the reference's (sections 1.5 and 5): 1317 empty schedule, 1340 unreadable start
time, 1360 start time in the past, 1361 / 1364 interval / backfill with `once`, 1362 bad
interval, 1397 bad frequency, 1366 / 1403 / 1404 changes after the start time, 1000 anything
else malformed. The Copy transformation's rules are in `copy_transformation`. Numbers may
arrive as numeric strings (`"1612310466"`, `"15"`, `"true"`), as the reference's docs send them.
Ticks are `t(k) = startTime + k * period` (DESIGN section 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from sluice.domain.errors import bad_request, refuse_unknown_fields
from sluice.domain.numbers import whole_number
from sluice.domain.windows import Window

Frequency = Literal["once", "minute", "hour", "day", "week"]

FREQUENCIES: tuple[Frequency, ...] = ("once", "minute", "hour", "day", "week")
UNIT_SECONDS: Mapping[str, int] = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
MIN_INTERVAL: Mapping[str, int] = {"minute": 15, "hour": 1, "day": 1, "week": 1}
SCHEDULE_KEYS = ("startTime", "frequency", "interval", "backfill")
# 9999-12-31T23:59:59Z: anything later is not epoch seconds (usually milliseconds).
MAX_EPOCH_SECONDS = 253402300799


@dataclass(frozen=True)
class Schedule:
    """A validated, normalized schedule; `interval` and `backfill` are None for `once`."""

    start_time: int
    frequency: Frequency
    interval: int | None = None
    backfill: bool | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"startTime": self.start_time, "frequency": self.frequency}
        if self.interval is not None:
            wire["interval"] = self.interval
        if self.backfill is not None:
            wire["backfill"] = self.backfill
        return wire

    @property
    def is_once(self) -> bool:
        return self.frequency == "once"

    @property
    def period_seconds(self) -> int:
        """Seconds between two ticks; a `once` schedule has no period (ValueError)."""
        if self.frequency == "once" or self.interval is None:
            raise ValueError("A 'once' schedule has a single tick and no period.")
        return self.interval * UNIT_SECONDS[self.frequency]

    def tick_time(self, k: int) -> int:
        """Epoch seconds of tick k: startTime + k * period (only tick 0 for `once`)."""
        if k < 0:
            raise ValueError(f"Tick numbers start at 0, got {k}.")
        if k == 0:
            return self.start_time
        return self.start_time + k * self.period_seconds

    def last_tick_index(self, now: int) -> int | None:
        """The greatest k with tick_time(k) <= now, or None before the start time."""
        if now < self.start_time:
            return None
        if self.is_once:
            return 0
        return (now - self.start_time) // self.period_seconds


# `next_tick_at` of a flow with nothing left to schedule (a `once` flow after its run, an
# unreadable schedule): never due. The largest BIGINT.
NO_MORE_TICKS = 2**63 - 1


def first_missing_tick(schedule: Schedule, last_created: int | None) -> int:
    """The first tick after `last_created` (the greatest tick with a run); tick 0 exists
    only for `once` and backfilling schedules."""
    first = 0 if schedule.is_once or schedule.backfill else 1
    return first if last_created is None else max(first, last_created + 1)


def due_ticks(schedule: Schedule, *, last_created: int | None, now_s: int, limit: int) -> range:
    """Ticks whose time has come and that have no run yet, oldest first, at most `limit`."""
    last_due = schedule.last_tick_index(now_s)
    if last_due is None:
        return range(0)
    first = first_missing_tick(schedule, last_created)
    return range(first, min(last_due, first + limit - 1) + 1)


def next_tick_at(schedule: Schedule, *, last_created: int | None) -> int:
    """When the first tick after `last_created` is due; NO_MORE_TICKS once a `once` flow
    has its run."""
    tick = first_missing_tick(schedule, last_created)
    if schedule.is_once and tick > 0:
        return NO_MORE_TICKS
    return schedule.tick_time(tick)


def tick_window(schedule: Schedule, tick: int) -> Window | None:
    """The window tick k covers: `[t(k-1), t(k))`, tick 0 everything
    before startTime; None for `once` (a full load)."""
    if schedule.is_once:
        return None
    if tick == 0:
        return Window(0, schedule.start_time)
    return Window(schedule.tick_time(tick - 1), schedule.tick_time(tick))


def _as_int(value: object) -> int | None:
    """An integer from a JSON integer, an integral float or a string of ASCII digits; else None."""
    return whole_number(value)


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _parse_start_time(
    value: object, now: int, grace_seconds: int, allow_past_start: int | None
) -> int:
    start = _as_int(value)
    if start is None:
        raise bad_request(
            1340,
            f"scheduleParams.startTime {value!r} could not be parsed; give "
            "the time of the first run in epoch seconds, as an integer or a "
            'string of digits such as "1612310466".',
        )
    if start > MAX_EPOCH_SECONDS:
        raise bad_request(
            1340,
            f"scheduleParams.startTime {start} is too large for epoch "
            "seconds; if it is in milliseconds, divide it by 1000.",
        )
    if start < now - grace_seconds and start != allow_past_start:
        if allow_past_start is not None and allow_past_start <= now:
            raise bad_request(
                1366,
                f"scheduleParams.startTime cannot be changed because the "
                f"flow's start time {allow_past_start} has passed; keep "
                f"startTime {allow_past_start}.",
            )
        raise bad_request(
            1360,
            f"scheduleParams.startTime {start} is in the past; give a time "
            f"at or after the current time {now} in epoch seconds.",
        )
    return start


def _parse_frequency(value: object) -> Frequency:
    if isinstance(value, str) and value.lower() in FREQUENCIES:
        return cast(Frequency, value.lower())
    raise bad_request(
        1397,
        f"scheduleParams.frequency {value!r} is not valid; use one of "
        "once, minute, hour, day or week.",
    )


def _parse_interval(value: object, frequency: str) -> int:
    minimum = MIN_INTERVAL[frequency]
    interval = _as_int(value)
    if interval is None or interval < minimum:
        raise bad_request(
            1362,
            f"scheduleParams.interval {value!r} is not valid for frequency "
            f"'{frequency}'; give a whole number of at least {minimum}.",
        )
    return interval


def parse_schedule(
    raw: object, *, now: int, grace_seconds: int = 60, allow_past_start: int | None = None
) -> Schedule:
    """Validate and normalize `scheduleParams`.

    `now` is epoch seconds; a start time up to `grace_seconds` in the past is accepted (clock
    skew and request latency). For a PATCH, `allow_past_start` is the flow's current start
    time, which stays acceptable even after it has passed.
    """
    if not isinstance(raw, Mapping) or not raw:
        raise bad_request(
            1317,
            "scheduleParams is missing or empty; give an object with "
            "startTime, frequency and, unless frequency is once, interval.",
        )
    refuse_unknown_fields(
        raw,
        SCHEDULE_KEYS,
        code=1000,
        where="scheduleParams",
        hint="the accepted fields are startTime, frequency, interval and backfill.",
    )
    start = _parse_start_time(raw.get("startTime"), now, grace_seconds, allow_past_start)
    frequency = _parse_frequency(raw.get("frequency"))
    if frequency == "once":
        if "interval" in raw:
            raise bad_request(
                1361,
                "scheduleParams.interval is not allowed when frequency is "
                "once; remove interval or choose minute, hour, day or week.",
            )
        if "backfill" in raw:
            raise bad_request(
                1364,
                "scheduleParams.backfill is not allowed when frequency is "
                "once; remove backfill or choose minute, hour, day or week.",
            )
        return Schedule(start, frequency)
    if "interval" not in raw:
        raise bad_request(
            1362,
            f"scheduleParams.interval is required when frequency is "
            f"'{frequency}'; give a whole number of at least "
            f"{MIN_INTERVAL[frequency]}.",
        )
    interval = _parse_interval(raw["interval"], frequency)
    backfill = _as_bool(raw.get("backfill", True))
    if backfill is None:
        raise bad_request(
            1000, f"scheduleParams.backfill {raw['backfill']!r} is not valid; use true or false."
        )
    return Schedule(start, frequency, interval, backfill)


def check_schedule_change(old: Schedule, new: Schedule, *, now: int) -> None:
    """Reject the changes the reference forbids once the flow's start time has passed."""
    if old.start_time > now:
        return
    if new.start_time != old.start_time:
        raise bad_request(
            1366,
            f"scheduleParams.startTime cannot be changed because the flow's "
            f"start time {old.start_time} has passed; keep startTime "
            f"{old.start_time}.",
        )
    if new.is_once and not old.is_once:
        raise bad_request(
            1403,
            "scheduleParams.frequency cannot be changed to once after the "
            "flow's start time has passed; keep a periodic frequency "
            "(minute, hour, day or week) or create a new flow.",
        )
    if old.backfill is not None and new.backfill is not None and new.backfill != old.backfill:
        raise bad_request(
            1404,
            f"scheduleParams.backfill cannot be changed after the flow's "
            f"start time has passed; keep backfill "
            f"{str(old.backfill).lower()}.",
        )
