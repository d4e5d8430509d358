"""Server-side SVG geometry of the runs chart: records per run (bars) and duration (line)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sluice.services.dashboard_runs import RunRow
from sluice.ui.formatting import count, duration, utc_from_ms

WIDTH, HEIGHT = 960, 170
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 14, 30
TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    status: str
    title: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list[Bar]
    dots: list[Dot]
    line: str  # SVG polyline points
    record_ticks: list[Tick]
    duration_ticks: list[Tick]
    first_label: str
    last_label: str


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 4, 6 or 8 times a power of ten that is >= value (1 for nothing):
    a quarter of it, the tick step, is then a round number too."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 6, 8, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - 10 * power always qualifies


def _ticks(
    top_value: float, bottom: float, span: float, label: Callable[[float], str]
) -> list[Tick]:
    """Gridlines with their labels; a label equal to the one below it is not repeated (small
    maxima would otherwise read 0, 0, 0, 1)."""
    ticks: list[Tick] = []
    for i in range(TICKS + 1):
        text = label(top_value * i / TICKS)
        shown = "" if ticks and any(t.label == text for t in ticks) else text
        ticks.append(Tick(y=round(bottom - span * i / TICKS, 1), label=shown))
    return ticks


def runs_chart(runs: Sequence[RunRow]) -> Chart | None:
    """The chart of `runs` (given newest first, drawn oldest to newest); None without runs."""
    if not runs:
        return None
    ordered = list(reversed(runs))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    bottom = HEIGHT - BOTTOM
    # At least one unit per gridline: counts and milliseconds are whole numbers.
    max_records = nice_ceiling(max(TICKS, *(r.output_records + r.failed_records for r in ordered)))
    durations = [r.duration_ms for r in ordered]
    max_duration = nice_ceiling(max((d for d in durations if d is not None), default=TICKS))
    slot = plot_width / len(ordered)
    bar_width = max(min(slot * 0.6, 40.0), 1.0)
    bars, dots = [], []
    for index, run in enumerate(ordered):
        center = LEFT + slot * (index + 0.5)
        records = run.output_records + run.failed_records
        height = plot_height * records / max_records
        window = (
            f"{utc_from_ms(run.window_start * 1000)} → {utc_from_ms(run.window_end * 1000)}"
            if run.window_start is not None and run.window_end is not None
            else "full load"
        )
        bars.append(
            Bar(
                x=round(center - bar_width / 2, 1),
                y=round(bottom - height, 1),
                width=round(bar_width, 1),
                height=round(height, 1),
                status=run.status,
                title=f"{run.status}: {count(run.output_records)} records out, "
                f"{count(run.failed_records)} failed ({window})",
            )
        )
        if run.duration_ms is not None:
            y = bottom - plot_height * run.duration_ms / max_duration
            dots.append(
                Dot(x=round(center, 1), y=round(y, 1), title=f"{duration(run.duration_ms)}")
            )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=bottom,
        bars=bars,
        dots=dots,
        line=" ".join(f"{d.x},{d.y}" for d in dots),
        record_ticks=_ticks(max_records, bottom, plot_height, lambda v: count(int(v))),
        duration_ticks=_ticks(max_duration, bottom, plot_height, lambda v: duration(int(v))),
        first_label=utc_from_ms(ordered[0].created_at),
        # One run (or runs created the same second): one label, not the same one twice.
        last_label=""
        if utc_from_ms(ordered[-1].created_at) == utc_from_ms(ordered[0].created_at)
        else utc_from_ms(ordered[-1].created_at),
    )
