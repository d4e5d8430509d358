"""The backfill plan: chunks are half-open, contiguous, never overlap, cover the range
exactly and break only on unit boundaries in UTC (Hypothesis over ranges and chunk specs)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.domain.backfill_plan import (
    CHUNK_UNITS,
    MAX_CHUNK_SIZE,
    ChunkSpec,
    ChunkUnit,
    floor_to_unit,
    parse_chunk_spec,
    plan_chunks,
)
from sluice.domain.backfill_requests import parse_backfill_request
from sluice.domain.errors import BadRequestError
from sluice.domain.windows import Window

PROPERTY = settings(max_examples=300, deadline=None)
# 1970 .. 2100, so that a range of a few thousand hours or months fits the chunk limit.
epochs = st.integers(min_value=0, max_value=4_102_444_800)
specs = st.builds(ChunkSpec, st.sampled_from(CHUNK_UNITS), st.integers(1, 30))


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _is_aligned(epoch: int, unit: ChunkUnit) -> bool:
    return floor_to_unit(_utc(epoch), unit) == _utc(epoch)


@st.composite
def ranges(draw: st.DrawFn) -> tuple[Window, ChunkSpec]:
    spec = draw(specs)
    start = draw(epochs)
    # At most ~2000 chunks' worth, so every example plans (the limit has its own test).
    unit_seconds = {"hour": 3600, "day": 86400, "week": 604800, "month": 31 * 86400}
    length = draw(st.integers(1, 2000 * spec.size * unit_seconds[spec.unit]))
    return Window(start, start + length), spec


@PROPERTY
@given(ranges())
def test_chunks_cover_the_range_exactly_without_overlap(case: tuple[Window, ChunkSpec]) -> None:
    window, spec = case
    chunks = plan_chunks(window, spec)
    assert chunks[0].start == window.start
    assert chunks[-1].end == window.end
    for chunk in chunks:
        assert chunk.start < chunk.end  # half-open and never empty
    for before, after in pairwise(chunks):
        assert before.end == after.start  # contiguous: no gap, no overlap
    assert sum(c.end - c.start for c in chunks) == window.end - window.start


@PROPERTY
@given(ranges())
def test_every_inner_boundary_is_a_unit_boundary_and_chunks_hold_at_most_size_units(
    case: tuple[Window, ChunkSpec],
) -> None:
    window, spec = case
    chunks = plan_chunks(window, spec)
    for chunk in chunks[:-1]:
        assert _is_aligned(chunk.end, spec.unit)
    grid = floor_to_unit(_utc(window.start), spec.unit)
    for chunk in chunks[1:-1]:  # whole chunks: exactly `size` units from an aligned start
        assert _is_aligned(chunk.start, spec.unit)
        assert _utc(chunk.start) >= grid
    if len(chunks) > 2:
        middle = chunks[1]
        plan = plan_chunks(Window(middle.start, middle.end), spec)
        assert plan == [middle]  # a whole chunk is one chunk of its own plan


@PROPERTY
@given(ranges(), st.integers(min_value=0))
def test_every_instant_of_the_range_is_in_exactly_one_chunk(
    case: tuple[Window, ChunkSpec], offset: int
) -> None:
    window, spec = case
    instant = window.start + offset % (window.end - window.start)
    chunks = plan_chunks(window, spec)
    assert sum(chunk.contains(instant) for chunk in chunks) == 1


def test_days_from_an_unaligned_start() -> None:
    start = int(datetime(2024, 1, 1, 6, tzinfo=UTC).timestamp())
    end = int(datetime(2024, 1, 3, tzinfo=UTC).timestamp())
    chunks = plan_chunks(Window(start, end), ChunkSpec("day", 1))
    assert [(_utc(c.start).isoformat(), _utc(c.end).isoformat()) for c in chunks] == [
        ("2024-01-01T06:00:00+00:00", "2024-01-02T00:00:00+00:00"),
        ("2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"),
    ]


def test_months_follow_the_calendar_and_weeks_start_on_monday() -> None:
    start = int(datetime(2024, 1, 15, tzinfo=UTC).timestamp())
    end = int(datetime(2024, 4, 1, tzinfo=UTC).timestamp())
    months = plan_chunks(Window(start, end), ChunkSpec("month", 1))
    assert [_utc(c.end).date().isoformat() for c in months] == [
        "2024-02-01",
        "2024-03-01",
        "2024-04-01",
    ]
    # 2024-01-15 is a Monday; size 2 steps two weeks from it.
    weeks = plan_chunks(Window(start + 86400, end), ChunkSpec("week", 2))
    assert _utc(weeks[0].end).date().isoformat() == "2024-01-29"
    assert all(_utc(c.end).weekday() == 0 for c in weeks[:-1])


def test_the_last_possible_second_does_not_overflow() -> None:
    end = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    chunks = plan_chunks(Window(end - 86400 * 40, end), ChunkSpec("month", 12))
    assert chunks[-1].end == end


@pytest.mark.parametrize(
    ("chunk", "fragment"),
    [
        ({"unit": "minute", "size": 1}, "chunk.unit"),
        ({"unit": "day", "size": 0}, "chunk.size"),
        ({"unit": "day", "size": MAX_CHUNK_SIZE + 1}, "chunk.size"),
        ({"unit": "day", "size": "1.5"}, "chunk.size"),
        ({"unit": "day", "size": True}, "chunk.size"),
        ("day", "chunk must be an object"),
    ],
)
def test_bad_chunk_specs_are_coded(chunk: object, fragment: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_chunk_spec(chunk)
    assert raised.value.code == 2301
    assert fragment in raised.value.message


def test_a_plan_over_the_chunk_limit_is_refused() -> None:
    with pytest.raises(BadRequestError) as raised:
        plan_chunks(Window(0, 3600 * 11), ChunkSpec("hour", 1), limit=10)
    assert raised.value.code == 2301
    assert len(plan_chunks(Window(0, 3600 * 10), ChunkSpec("hour", 1), limit=10)) == 10


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"windowEndTime": 1_700_000_000}, 1381),
        ({"windowEndTime": 1_699_999_999}, 1381),
        ({"parallelism": 0}, 2302),
        ({"parallelism": 17}, 2302),
        ({"chunk": {"unit": "fortnight"}}, 2301),
        ({"flowId": ""}, 1446),
        ({"windowStartTime": "soon"}, 1384),
        ({"dryRun": "maybe"}, 1000),
    ],
)
def test_bad_requests_are_coded(change: dict[str, object], code: int) -> None:
    body = {
        "flowId": "f",
        "windowStartTime": 1_700_000_000,
        "windowEndTime": 1_700_086_400,
        "chunk": {"unit": "day", "size": 1},
        "parallelism": 2,
        **change,
    }
    with pytest.raises(BadRequestError) as raised:
        parse_backfill_request(body)
    assert raised.value.code == code


def test_defaults_and_numeric_strings() -> None:
    request = parse_backfill_request(
        {"flowId": " f ", "windowStartTime": "10", "windowEndTime": "20", "chunk": {"unit": "DAY"}}
    )
    assert (request.flow_id, request.window, request.chunk) == (
        "f",
        Window(10, 20),
        ChunkSpec("day", 1),
    )
    assert (request.parallelism, request.dry_run, request.delta_column) == (1, False, None)
