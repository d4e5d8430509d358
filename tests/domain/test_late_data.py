"""Late data: the exact window a tick reads with `settleDelay` and `lookback`, at the
boundaries, and the coded errors of the options."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.domain.errors import BadRequestError
from sluice.domain.late_data import LateData, late_data_of, late_window, parse_late_data
from sluice.domain.schedule import Schedule, tick_window
from sluice.domain.windows import Window

HOUR = 3600
START = 1_717_200_000  # 2024-06-01T00:00:00Z
HOURLY = Schedule(START, "hour", 1, True)


def _tick(schedule: Schedule, k: int, late: LateData) -> Window:
    window = tick_window(schedule, k)
    assert window is not None
    return late_window(window, late, first=k == 0)


def test_worked_example_of_the_docs() -> None:
    """Hourly from 00:00, settleDelay 15 minutes, lookback 1 hour: tick 3 (due 03:00) reads
    [00:45, 02:45)."""
    late = LateData(settle_delay=15 * 60, lookback=HOUR)
    assert _tick(HOURLY, 3, late) == Window(START + 45 * 60, START + 2 * HOUR + 45 * 60)
    assert _tick(HOURLY, 0, late) == Window(0, START - 15 * 60)
    assert _tick(HOURLY, 1, late) == Window(START - 75 * 60, START + 45 * 60)


def test_no_options_keep_the_plain_window() -> None:
    assert _tick(HOURLY, 5, LateData()) == Window(START + 4 * HOUR, START + 5 * HOUR)


def test_a_row_on_the_shifted_end_belongs_to_the_next_tick_only() -> None:
    late = LateData(settle_delay=600, lookback=0)
    boundary = START + 2 * HOUR - 600
    assert not _tick(HOURLY, 2, late).contains(boundary)
    assert _tick(HOURLY, 2, late).contains(boundary - 1)
    assert _tick(HOURLY, 3, late).contains(boundary)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 7 * 86400),
    st.integers(0, 7 * 86400),
    st.integers(1, 200),
    st.sampled_from(["minute", "hour", "day"]),
)
def test_consecutive_ticks_leave_no_gap_and_overlap_by_exactly_the_lookback(
    settle: int, lookback: int, k: int, frequency: str
) -> None:
    interval = 15 if frequency == "minute" else 1
    schedule = Schedule(START, frequency, interval, True)  # type: ignore[arg-type]
    late = LateData(settle, lookback)
    before, after = _tick(schedule, k, late), _tick(schedule, k + 1, late)
    assert after.start == before.end - lookback
    assert after.end - before.end == schedule.period_seconds
    assert after.end == schedule.tick_time(k + 1) - settle  # never reads past due - settle


def _parse(
    options: dict[str, Any], write_mode: str = "replaceWindow", kind: str = "table"
) -> LateData:
    return parse_late_data(options, periodic=True, write_mode=write_mode, source_kind=kind)


def test_units_are_converted() -> None:
    late = _parse(
        {"settleDelay": {"value": 2, "unit": "hour"}, "lookback": {"value": 1, "unit": "day"}}
    )
    assert late == LateData(settle_delay=2 * HOUR, lookback=86400)
    assert _parse({"settleDelay": {"value": "90", "unit": "minute"}}) == LateData(5400, 0)


@pytest.mark.parametrize(
    "value",
    [
        {"value": 2, "unit": "week"},
        {"value": -1, "unit": "hour"},
        {"value": 1.5, "unit": "hour"},
        {"value": 8, "unit": "day"},
        {"value": 2},
        {"value": 2, "unit": "hour", "extra": 1},
        "2h",
    ],
)
def test_bad_durations_are_coded_2311(value: object) -> None:
    with pytest.raises(BadRequestError) as raised:
        _parse({"lookback": value})
    assert raised.value.code == 2311


def test_lookback_with_append_or_file_replace_is_refused_2312() -> None:
    lookback = {"lookback": {"value": 1, "unit": "hour"}}
    for mode, kind in (("append", "table"), ("append", "file"), ("replaceWindow", "file")):
        with pytest.raises(BadRequestError) as raised:
            _parse(lookback, mode, kind)
        assert raised.value.code == 2312
    assert _parse(lookback, "merge", "file").lookback == HOUR
    # A settle delay alone never re-reads a row: any write mode may use it.
    assert (
        _parse({"settleDelay": {"value": 5, "unit": "minute"}}, "append", "file").settle_delay
        == 300
    )


def test_once_flows_have_no_tick_windows_to_shift() -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_late_data(
            {"settleDelay": {"value": 1, "unit": "hour"}},
            periodic=False,
            write_mode="replaceWindow",
            source_kind="table",
        )
    assert raised.value.code == 2311


def test_the_scheduler_reads_unreadable_options_as_off() -> None:
    assert late_data_of(None) == LateData()
    assert late_data_of({"lookback": {"value": "x", "unit": "hour"}}) == LateData()
    assert late_data_of({"lookback": {"value": 2, "unit": "hour"}}) == LateData(0, 2 * HOUR)
