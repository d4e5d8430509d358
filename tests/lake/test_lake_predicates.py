"""Window predicates select exactly the window's rows when deltalake overwrites with them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from lake_helpers import read_table

from sluice.domain.windows import Window
from sluice.lake.predicates import date_bounds, local_bounds, quote_identifier, window_predicate

US = timedelta(microseconds=1)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class Case:
    column_type: pa.DataType
    timezone: str
    window: Window
    values: list[Any]
    # The definition of "in the window", independent of the predicate code.
    inside: Callable[[Any], bool]


def _tz_case() -> Case:
    window = Window(epoch(utc(2024, 3, 10)), epoch(utc(2024, 3, 11)))
    start, end = window.start_datetime, window.end_datetime
    values = [start - US, start, start + timedelta(hours=5), end - US, end, end + US]
    return Case(pa.timestamp("us", tz="UTC"), "UTC", window, values,
                lambda v: window.start <= v.timestamp() < window.end)


def _ntz_case(timezone: str, start: datetime, end: datetime, extra: list[datetime]) -> Case:
    zone = ZoneInfo(timezone)
    window = Window(epoch(start), epoch(end))
    lower, upper = local_bounds(window, timezone)
    values = [lower - US, lower, upper - US, upper, *extra]
    return Case(pa.timestamp("us"), timezone, window, values,
                lambda v: window.start <= v.replace(tzinfo=zone).timestamp() < window.end)


def _date_case(timezone: str, start: datetime, end: datetime) -> Case:
    zone = ZoneInfo(timezone)
    window = Window(epoch(start), epoch(end))
    first = start.astimezone(zone).date()
    values = [first + timedelta(days=k) for k in range(-2, 5)]
    return Case(pa.date32(), timezone, window, values,
                lambda d: window.start
                <= datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() < window.end)


def _int_case(column_type: pa.DataType) -> Case:
    window = Window(1_700_000_000, 1_700_003_600)
    values = [window.start - 1, window.start, window.start + 60, window.end - 1, window.end]
    return Case(column_type, "UTC", window, values,
                lambda v: window.start <= v < window.end)


CASES = {
    "timestamp_tz": _tz_case(),
    "timestamp_ntz_utc": _ntz_case("UTC", utc(2024, 1, 1, 1), utc(2024, 1, 1, 3), []),
    # 00:00 EDT (04:00Z) to 02:00 EST (07:00Z): the clocks fall back at 02:00 EDT.
    "timestamp_ntz_new_york_fall_back": _ntz_case(
        "America/New_York", utc(2024, 11, 3, 4), utc(2024, 11, 3, 7),
        [datetime(2024, 11, 3, 1, 30)],
    ),
    # 00:00 EST (05:00Z) to 04:00 EDT (08:00Z): the clocks spring forward at 02:00 EST.
    "timestamp_ntz_new_york_spring_forward": _ntz_case(
        "America/New_York", utc(2024, 3, 10, 5), utc(2024, 3, 10, 8),
        [datetime(2024, 3, 10, 1, 59), datetime(2024, 3, 10, 3, 0)],
    ),
    "date_utc": _date_case("UTC", utc(2024, 1, 1), utc(2024, 1, 3)),
    # Tokyo midnights are at 15:00Z: the window starts on one, ends on another.
    "date_tokyo": _date_case("Asia/Tokyo", utc(2024, 3, 9, 15), utc(2024, 3, 11, 15)),
    "date_tokyo_unaligned": _date_case("Asia/Tokyo", utc(2024, 3, 9, 16), utc(2024, 3, 11, 14)),
    "epoch_int64": _int_case(pa.int64()),
    "epoch_int32": _int_case(pa.int32()),
}
NAMES = ["Event Time", "UPPERCase", 'we"ird', "ts"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case_name", sorted(CASES))
def test_overwrite_with_the_predicate_replaces_exactly_the_window(
    table_uri: str, case_name: str, name: str
) -> None:
    case = CASES[case_name]
    schema = pa.schema([("id", pa.int64()), (name, case.column_type), ("tag", pa.string())])
    values = case.values
    inside = {i for i, v in enumerate(values) if case.inside(v)}
    assert inside and len(inside) < len(values)
    old = [{"id": i, name: v, "tag": "old"} for i, v in enumerate(values)]
    write_deltalake(table_uri, pa.Table.from_pylist(old, schema=schema))
    new = [{"id": i, name: values[i], "tag": "new"} for i in sorted(inside)]
    predicate = window_predicate(name, case.column_type, case.window, case.timezone)
    # deltalake refuses new rows the predicate does not select, so this also checks that
    # every row of the window is selected; the contents check that no other row is.
    write_deltalake(
        table_uri, pa.Table.from_pylist(new, schema=schema), mode="overwrite", predicate=predicate
    )
    table = read_table(table_uri)
    rows = {r["id"]: (r[name], r["tag"]) for r in table.to_pylist()}
    assert rows == {i: (v, "new" if i in inside else "old") for i, v in enumerate(values)}


def test_boundary_values_are_in_the_cases() -> None:
    """Each case holds a row exactly at the window start (in) and exactly at its end (out)."""
    for name in ("timestamp_tz", "epoch_int64", "epoch_int32"):
        case = CASES[name]
        assert case.inside(case.values[1]) and not case.inside(case.values[4])
    for name in ("timestamp_ntz_utc", "timestamp_ntz_new_york_fall_back"):
        case = CASES[name]  # values: lower - 1us, lower, upper - 1us, upper
        assert [case.inside(v) for v in case.values[:4]] == [False, True, True, False]
    tokyo = CASES["date_tokyo"]  # 2024-03-10 00:00 JST is the start, 2024-03-12 the end
    assert [d for d in tokyo.values if tokyo.inside(d)] == [date(2024, 3, 10), date(2024, 3, 11)]
    assert date(2024, 3, 12) in tokyo.values


def test_predicate_text() -> None:
    window = Window(1_700_000_000, 1_700_003_600)
    assert window_predicate("Epoch s", pa.int64(), window, "UTC") == (
        '"Epoch s" >= 1700000000 AND "Epoch s" < 1700003600'
    )
    assert window_predicate("t", pa.timestamp("us", tz="UTC"), window, "Asia/Tokyo") == (
        "\"t\" >= arrow_cast('2023-11-14T22:13:20Z', 'Timestamp(Microsecond, Some(\"UTC\"))')"
        " AND \"t\" < arrow_cast('2023-11-14T23:13:20Z', 'Timestamp(Microsecond, Some(\"UTC\"))')"
    )
    assert quote_identifier('a"b c') == '"a""b c"'


def test_local_and_date_bounds() -> None:
    # New York falls back at 06:00Z: 01:00 EDT (05:00Z) to 01:00 EST (06:00Z) is empty locally.
    assert local_bounds(Window(epoch(utc(2024, 11, 3, 5)), epoch(utc(2024, 11, 3, 6))),
                        "America/New_York") == (datetime(2024, 11, 3, 1), datetime(2024, 11, 3, 1))
    assert date_bounds(Window(epoch(utc(2024, 3, 9, 15)), epoch(utc(2024, 3, 11, 15))),
                       "Asia/Tokyo") == (date(2024, 3, 10), date(2024, 3, 12))
    assert date_bounds(Window(epoch(utc(2024, 3, 9, 16)), epoch(utc(2024, 3, 11, 15))),
                       "Asia/Tokyo") == (date(2024, 3, 11), date(2024, 3, 12))
    # No midnight inside the window: no date.
    lower, upper = date_bounds(Window(epoch(utc(2024, 1, 1, 1)), epoch(utc(2024, 1, 1, 5))), "UTC")
    assert lower == upper


def test_unsupported_columns_and_zones_are_refused() -> None:
    window = Window(0, 60)
    with pytest.raises(ValueError, match="cannot select a window"):
        window_predicate("name", pa.string(), window, "UTC")
    with pytest.raises(ValueError, match="cannot select a window"):
        window_predicate("x", pa.float64(), window, "UTC")
    with pytest.raises(ValueError, match="Unknown timezone"):
        window_predicate("t", pa.timestamp("us"), window, "Mars/Olympus")
