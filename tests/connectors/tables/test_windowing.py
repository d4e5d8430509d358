"""Window bounds per delta column kind: instants, wall times in a zone, days, epoch seconds."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from sluice.connectors.tables.windowing import DeltaKind, local_midnight, window_bounds, zone
from sluice.domain.windows import Window, split_window


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_timestamptz_bounds_are_aware_utc() -> None:
    window = Window(epoch("2024-03-01T10:00:00+00:00"), epoch("2024-03-01T11:00:00+00:00"))
    bounds = window_bounds(DeltaKind.TIMESTAMPTZ, window, "Europe/Paris")
    assert bounds.lower == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert bounds.upper == datetime(2024, 3, 1, 11, tzinfo=UTC)
    assert isinstance(bounds.lower, datetime) and bounds.lower.tzinfo is UTC


def test_zoneless_timestamp_bounds_are_wall_times_in_the_timezone() -> None:
    # Summer: Paris is UTC+2; winter: UTC+1.
    summer = Window(epoch("2024-07-01T00:00:00+00:00"), epoch("2024-07-01T01:00:00+00:00"))
    bounds = window_bounds(DeltaKind.TIMESTAMP, summer, "Europe/Paris")
    assert bounds.lower == datetime(2024, 7, 1, 2, 0)
    assert bounds.upper == datetime(2024, 7, 1, 3, 0)
    winter = Window(epoch("2024-01-01T00:00:00+00:00"), epoch("2024-01-01T01:00:00+00:00"))
    assert window_bounds(DeltaKind.TIMESTAMP, winter, "Europe/Paris").lower == datetime(
        2024, 1, 1, 1, 0
    )
    assert window_bounds(DeltaKind.TIMESTAMP, winter).lower == datetime(2024, 1, 1, 0, 0)


def test_date_is_in_the_window_iff_its_local_midnight_is() -> None:
    paris = zone("Europe/Paris")
    midnight = int(local_midnight(date(2024, 7, 2), paris).timestamp())  # 2024-07-01T22:00Z
    exact = window_bounds(DeltaKind.DATE, Window(midnight, midnight + 1), "Europe/Paris")
    assert (exact.lower, exact.upper) == (date(2024, 7, 2), date(2024, 7, 3))
    after = window_bounds(DeltaKind.DATE, Window(midnight + 1, midnight + 86_400), "Europe/Paris")
    assert (after.lower, after.upper) == (date(2024, 7, 3), date(2024, 7, 3))  # empty
    # In UTC the same instant is 22:00 on July 1st: no midnight in [22:00, 22:00:01).
    utc = window_bounds(DeltaKind.DATE, Window(midnight, midnight + 1), "UTC")
    assert utc.lower == utc.upper == date(2024, 7, 2)


def test_consecutive_date_windows_partition_the_days() -> None:
    start = epoch("2024-03-29T00:00:00+00:00")  # spans the March DST change in Paris
    hours = [start + 3600 * i for i in range(0, 24 * 5, 7)]
    ranges = [
        window_bounds(DeltaKind.DATE, Window(a, b), "Europe/Paris")
        for a, b in itertools.pairwise(hours)
    ]
    for before, after in itertools.pairwise(ranges):
        assert before.upper == after.lower


def test_epoch_bounds_are_the_window_itself() -> None:
    bounds = window_bounds(DeltaKind.EPOCH, Window(100, 200))
    assert (bounds.lower, bounds.upper) == (100, 200)


def test_bounds_outside_datetime_range_are_open() -> None:
    bounds = window_bounds(DeltaKind.TIMESTAMPTZ, Window(-(10**12), 10**12))
    assert (bounds.lower, bounds.upper) == (None, None)
    huge = window_bounds(DeltaKind.EPOCH, Window(-(2**70), 2**70))
    assert (huge.lower, huge.upper) == (None, None)


def test_unknown_timezone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Base'"):
        window_bounds(DeltaKind.TIMESTAMP, Window(0, 1), "Mars/Base")


def test_split_window_pieces_meet_exactly_and_cover_the_window() -> None:
    window = Window(epoch("2024-03-01T00:00:00+00:00"), epoch("2024-03-05T00:00:00+00:00") + 3)
    pieces = split_window(window, 4)
    assert len(pieces) == 4
    assert pieces[0].start == window.start and pieces[-1].end == window.end
    assert all(a.end == b.start and a.start < a.end for a, b in itertools.pairwise(pieces))
    assert split_window(window, 1) == [window]
    assert split_window(Window(0, 3), 4) == [Window(0, 3)]  # too short to cut


def test_split_window_keeps_open_sides_on_the_end_pieces() -> None:
    """A window reaching past what a datetime holds is cut inside the representable range,
    so only its first and last piece have an open side."""
    window = Window(-(2**62), 2**62)
    pieces = split_window(window, 4)
    assert len(pieces) == 4 and pieces[0].start == window.start and pieces[-1].end == window.end
    for piece in pieces[1:]:
        assert window_bounds(DeltaKind.TIMESTAMP, piece).lower is not None
    for piece in pieces[:-1]:
        assert window_bounds(DeltaKind.TIMESTAMPTZ, piece).upper is not None


def test_split_window_does_not_cut_where_wall_times_go_back() -> None:
    """Paris falls back at 2024-10-27 03:00 local (01:00 UTC): a cut in the repeated hour
    would have a wall time before its left neighbour's, so the window stays whole."""
    start = epoch("2024-10-27T00:59:00+00:00")
    window = Window(start, start + 120)
    assert split_window(window, 2, "Europe/Paris") == [window]
    assert len(split_window(window, 2, "UTC")) == 2
