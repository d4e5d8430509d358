"""scheduleParams parsing, PATCH rules and tick arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.domain.errors import BadRequestError
from sluice.domain.schedule import (
    NO_MORE_TICKS,
    Schedule,
    check_schedule_change,
    due_ticks,
    next_tick_at,
    parse_schedule,
    tick_window,
)
from sluice.domain.windows import Window

DOCS_START = 1612310466
NOW = DOCS_START - 1000
DOCS_SCHEDULE = {"startTime": "1612310466", "frequency": "minute", "interval": "15",
                 "backfill": "true"}
PERIODIC = Schedule(DOCS_START, "minute", 15, True)
ONCE = Schedule(DOCS_START, "once")


def code_of(raw: object, *, now: int = NOW, **kwargs: Any) -> int:
    with pytest.raises(BadRequestError) as info:
        parse_schedule(raw, now=now, **kwargs)
    assert info.value.status == 400
    assert info.value.message.endswith(".")
    return info.value.code


def sched(**fields: Any) -> dict[str, Any]:
    return {"startTime": DOCS_START, "frequency": "hour", "interval": 1, **fields}


# --- parse_schedule: accepted forms ---------------------------------------------------------

def test_docs_string_form_is_accepted_and_normalized() -> None:
    schedule = parse_schedule(DOCS_SCHEDULE, now=NOW)
    assert schedule == Schedule(DOCS_START, "minute", 15, True)
    assert schedule.to_wire() == {"startTime": DOCS_START, "frequency": "minute",
                                  "interval": 15, "backfill": True}


def test_numeric_form_is_accepted() -> None:
    raw = {"startTime": DOCS_START, "frequency": "day", "interval": 3, "backfill": False}
    assert parse_schedule(raw, now=NOW) == Schedule(DOCS_START, "day", 3, False)


def test_integral_floats_are_integers() -> None:
    raw = {"startTime": float(DOCS_START), "frequency": "minute", "interval": 15.0}
    assert parse_schedule(raw, now=NOW) == Schedule(DOCS_START, "minute", 15, True)


@pytest.mark.parametrize("frequency", ["hour", "day", "week"])
def test_backfill_defaults_to_true_for_periodic(frequency: str) -> None:
    schedule = parse_schedule(sched(frequency=frequency), now=NOW)
    assert schedule.backfill is True
    assert schedule.interval == 1


def test_once_has_no_interval_or_backfill() -> None:
    schedule = parse_schedule({"startTime": str(DOCS_START), "frequency": "once"}, now=NOW)
    assert schedule == ONCE
    assert schedule.to_wire() == {"startTime": DOCS_START, "frequency": "once"}


@pytest.mark.parametrize(("given", "normalized"),
                         [("MINUTE", "minute"), ("Once", "once"), ("wEEk", "week")])
def test_frequency_is_case_insensitive(given: str, normalized: str) -> None:
    raw: dict[str, Any] = {"startTime": DOCS_START, "frequency": given}
    if normalized != "once":
        raw["interval"] = 15
    assert parse_schedule(raw, now=NOW).frequency == normalized


@pytest.mark.parametrize(("given", "expected"), [
    (True, True), (False, False), ("true", True), ("false", False), ("TRUE", True),
    ("False", False),
])
def test_backfill_forms(given: object, expected: bool) -> None:
    assert parse_schedule(sched(backfill=given), now=NOW).backfill is expected


def test_wire_form_round_trips() -> None:
    for schedule in (PERIODIC, ONCE, Schedule(DOCS_START, "week", 2, False)):
        assert parse_schedule(schedule.to_wire(), now=NOW) == schedule


# --- parse_schedule: errors -----------------------------------------------------------------

@pytest.mark.parametrize("raw", [None, {}, [], [1], "once", 5])
def test_missing_empty_or_not_an_object_is_1317(raw: object) -> None:
    assert code_of(raw) == 1317


def test_unknown_keys_are_1000() -> None:
    assert code_of(sched(endTime=DOCS_START + 10)) == 1000
    with pytest.raises(BadRequestError) as info:
        parse_schedule(sched(Interval=1), now=NOW)
    assert "Interval" in info.value.message and "backfill" in info.value.message


@pytest.mark.parametrize("start", [
    None, "abc", "1.5", "-5", " 1612310466", "1e9", "", True, 1.5, [DOCS_START], {},
])
def test_unparseable_start_time_is_1340(start: object) -> None:
    assert code_of(sched(startTime=start)) == 1340


def test_missing_start_time_is_1340() -> None:
    assert code_of({"frequency": "hour", "interval": 1}) == 1340


def test_start_time_in_milliseconds_is_1340() -> None:
    with pytest.raises(BadRequestError) as info:
        parse_schedule(sched(startTime=DOCS_START * 1000), now=NOW)
    assert info.value.code == 1340
    assert "milliseconds" in info.value.message


def test_start_time_in_the_past_is_1360() -> None:
    assert code_of(sched(startTime=NOW - 61)) == 1360
    assert code_of(sched(startTime=str(NOW - 3600))) == 1360
    assert code_of(sched(startTime=-5)) == 1360


def test_start_time_within_grace_is_accepted() -> None:
    assert parse_schedule(sched(startTime=NOW - 60), now=NOW).start_time == NOW - 60
    assert parse_schedule(sched(startTime=NOW - 300), now=NOW, grace_seconds=300).start_time \
        == NOW - 300
    assert code_of(sched(startTime=NOW - 1), grace_seconds=0) == 1360


@pytest.mark.parametrize("frequency", ["daily", "", "seconds", "month", None, 5, True])
def test_bad_frequency_is_1397(frequency: object) -> None:
    assert code_of(sched(frequency=frequency)) == 1397


def test_missing_frequency_is_1397() -> None:
    assert code_of({"startTime": DOCS_START, "interval": 1}) == 1397


@pytest.mark.parametrize("interval", [1, "15", None, 0])
def test_once_with_interval_is_1361(interval: object) -> None:
    assert code_of({"startTime": DOCS_START, "frequency": "once", "interval": interval}) == 1361


@pytest.mark.parametrize("backfill", [True, False, "false", None])
def test_once_with_backfill_is_1364(backfill: object) -> None:
    assert code_of({"startTime": DOCS_START, "frequency": "once", "backfill": backfill}) == 1364


@pytest.mark.parametrize("frequency", ["minute", "hour", "day", "week"])
def test_periodic_without_interval_is_1362(frequency: str) -> None:
    assert code_of({"startTime": DOCS_START, "frequency": frequency}) == 1362


@pytest.mark.parametrize("interval", [14, "14", 1, 0, -15, "abc", "-15", True, 15.5, None, ""])
def test_minute_interval_below_15_or_not_an_integer_is_1362(interval: object) -> None:
    assert code_of(sched(frequency="minute", interval=interval)) == 1362


@pytest.mark.parametrize("frequency", ["hour", "day", "week"])
@pytest.mark.parametrize("interval", [0, "0", -1, 2.5, False, "x"])
def test_other_interval_below_1_is_1362(frequency: str, interval: object) -> None:
    assert code_of(sched(frequency=frequency, interval=interval)) == 1362


@pytest.mark.parametrize(("frequency", "interval"),
                         [("minute", 15), ("minute", "90"), ("hour", 1), ("day", "15"),
                          ("week", 1)])
def test_interval_minimums_are_accepted(frequency: str, interval: object) -> None:
    assert parse_schedule(sched(frequency=frequency, interval=interval), now=NOW).interval \
        == int(str(interval))


@pytest.mark.parametrize("backfill", ["yes", 1, 0, None, "", [True]])
def test_bad_backfill_is_1000(backfill: object) -> None:
    assert code_of(sched(backfill=backfill)) == 1000


def test_checks_run_in_field_order() -> None:
    # A bad start time is reported before a bad frequency, which comes before interval rules.
    assert code_of({"startTime": "x", "frequency": "daily", "interval": 0}) == 1340
    assert code_of({"startTime": DOCS_START, "frequency": "daily", "interval": 0}) == 1397


# --- PATCH: allow_past_start and check_schedule_change --------------------------------------

def test_patch_keeps_an_unchanged_start_time_that_has_passed() -> None:
    later = DOCS_START + 86400
    schedule = parse_schedule(DOCS_SCHEDULE | {"interval": "30"}, now=later,
                              allow_past_start=DOCS_START)
    assert schedule == Schedule(DOCS_START, "minute", 30, True)
    check_schedule_change(PERIODIC, schedule, now=later)


def test_patch_to_another_past_start_after_the_start_time_is_1366() -> None:
    later = DOCS_START + 86400
    raw = sched(startTime=DOCS_START + 10)
    assert code_of(raw, now=later, allow_past_start=DOCS_START) == 1366


def test_patch_before_the_start_time_still_rejects_a_past_start() -> None:
    # The old start time lies ahead, so moving the start into the past is plain 1360.
    assert code_of(sched(startTime=NOW - 3600), allow_past_start=DOCS_START) == 1360


def change_refusal(old: Schedule, new: Schedule, *, now: int) -> int | None:
    """The code a schedule change is refused with, or None when it is allowed."""
    try:
        check_schedule_change(old, new, now=now)
    except BadRequestError as error:
        return error.code
    return None


def test_before_the_start_time_everything_may_change() -> None:
    before = DOCS_START - 1
    assert change_refusal(PERIODIC, Schedule(DOCS_START + 99, "once"), now=before) is None
    assert change_refusal(PERIODIC, Schedule(DOCS_START, "minute", 15, False), now=before) is None
    assert change_refusal(ONCE, Schedule(DOCS_START + 5, "day", 2, False), now=before) is None


@pytest.mark.parametrize("now", [DOCS_START, DOCS_START + 86400])
def test_changing_the_start_time_after_it_passed_is_1366(now: int) -> None:
    with pytest.raises(BadRequestError) as info:
        check_schedule_change(PERIODIC, Schedule(now + 3600, "minute", 15, True), now=now)
    assert info.value.code == 1366


def test_changing_to_once_after_the_start_time_is_1403() -> None:
    with pytest.raises(BadRequestError) as info:
        check_schedule_change(PERIODIC, Schedule(DOCS_START, "once"), now=DOCS_START + 1)
    assert info.value.code == 1403


def test_changing_backfill_after_the_start_time_is_1404() -> None:
    with pytest.raises(BadRequestError) as info:
        check_schedule_change(PERIODIC, Schedule(DOCS_START, "minute", 15, False),
                              now=DOCS_START + 1)
    assert info.value.code == 1404


def test_other_changes_after_the_start_time_are_allowed() -> None:
    after = DOCS_START + 1
    assert change_refusal(PERIODIC, Schedule(DOCS_START, "hour", 2, True), now=after) is None
    assert change_refusal(PERIODIC, PERIODIC, now=after) is None
    assert change_refusal(ONCE, ONCE, now=after) is None
    assert change_refusal(ONCE, Schedule(DOCS_START, "day", 1, True), now=after) is None


# --- ticks ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("frequency", "interval", "period"), [
    ("minute", 15, 900), ("minute", 30, 1800), ("hour", 1, 3600), ("hour", 6, 21600),
    ("day", 15, 15 * 86400), ("week", 2, 2 * 604800),
])
def test_period_and_ticks(frequency: Any, interval: int, period: int) -> None:
    schedule = Schedule(DOCS_START, frequency, interval, True)
    assert schedule.period_seconds == period
    assert schedule.tick_time(0) == DOCS_START
    assert schedule.tick_time(1) == DOCS_START + period
    assert schedule.tick_time(1000) == DOCS_START + 1000 * period


def test_once_has_only_tick_zero() -> None:
    assert ONCE.tick_time(0) == DOCS_START
    with pytest.raises(ValueError):
        _ = ONCE.period_seconds
    with pytest.raises(ValueError):
        ONCE.tick_time(1)


def test_negative_tick_is_an_error() -> None:
    with pytest.raises(ValueError):
        PERIODIC.tick_time(-1)


def test_last_tick_index() -> None:
    assert PERIODIC.last_tick_index(DOCS_START - 1) is None
    assert PERIODIC.last_tick_index(DOCS_START) == 0
    assert PERIODIC.last_tick_index(DOCS_START + 899) == 0
    assert PERIODIC.last_tick_index(DOCS_START + 900) == 1
    assert PERIODIC.last_tick_index(DOCS_START + 10 * 900 + 5) == 10
    assert ONCE.last_tick_index(DOCS_START - 1) is None
    assert ONCE.last_tick_index(DOCS_START + 10**6) == 0
    for k in range(50):
        assert PERIODIC.last_tick_index(PERIODIC.tick_time(k)) == k
        assert PERIODIC.last_tick_index(PERIODIC.tick_time(k + 1) - 1) == k


# --- tick arithmetic (what the scheduler and the flow service share) ------------------------

def test_due_ticks_start_after_the_last_run_and_stop_at_now() -> None:
    hourly = Schedule(DOCS_START, "hour", 1, False)
    assert due_ticks(hourly, last_created=None, now_s=DOCS_START - 1, limit=10) == range(0)
    three_hours = DOCS_START + 3 * 3600
    assert due_ticks(hourly, last_created=None, now_s=three_hours, limit=10) == range(1, 4)
    assert due_ticks(hourly, last_created=2, now_s=DOCS_START + 9 * 3600, limit=3) == range(3, 6)
    backfill = Schedule(DOCS_START, "hour", 1, True)
    assert due_ticks(backfill, last_created=None, now_s=DOCS_START, limit=10) == range(0, 1)


def test_next_tick_at_and_the_window_of_a_tick() -> None:
    hourly = Schedule(DOCS_START, "hour", 1, True)
    assert next_tick_at(hourly, last_created=None) == DOCS_START  # tick 0, the backfill
    assert next_tick_at(hourly, last_created=4) == DOCS_START + 5 * 3600
    assert next_tick_at(ONCE, last_created=None) == ONCE.start_time
    assert next_tick_at(ONCE, last_created=0) == NO_MORE_TICKS
    assert tick_window(hourly, 0) == Window(0, DOCS_START)
    assert tick_window(hourly, 3) == Window(DOCS_START + 2 * 3600, DOCS_START + 3 * 3600)
    assert tick_window(ONCE, 0) is None
