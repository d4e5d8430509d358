"""How the dashboard writes times, sizes, durations and schedules (Jinja filters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

UNITS = {"minute": "minute", "hour": "hour", "day": "day", "week": "week"}


def utc_from_ms(value: int | None) -> str:
    if value is None:
        return "—"
    moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_from_seconds(value: int | None) -> str:
    return "—" if value is None else utc_from_ms(value * 1000)


def compact_utc(value_ms: int | None) -> str:
    """For tables whose header says UTC: no zone, and no seconds when they are zero."""
    if value_ms is None:
        return "—"
    moment = datetime.fromtimestamp(value_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M" if moment.second == 0 else "%Y-%m-%d %H:%M:%S")


def input_value(seconds: int) -> str:
    """A time input's value for epoch seconds: `YYYY-MM-DD HH:MM`, in UTC. Plain text, not a
    `datetime-local` input, which a browser shows in its locale's format (with AM/PM)
    under a label that says UTC."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M")


def parse_input_value(text: str) -> int | None:
    """Epoch seconds of a typed `YYYY-MM-DD HH:MM[:SS]` (or ISO `T`) read as UTC; None if
    empty or unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def size(value: int | None) -> str:
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1024 or unit == "TB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} B"  # pragma: no cover - the loop always returns


def duration(value_ms: int | None) -> str:
    if value_ms is None:
        return "—"
    if value_ms < 1000:
        return f"{value_ms} ms"
    seconds = value_ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def rate(value: float | None) -> str:
    """Rows per second: whole numbers with separators, one decimal below 10."""
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} %"


def schedule(params: Mapping[str, Any] | None) -> str:
    if not params:
        return "—"
    start = params.get("startTime")
    start_text = utc_from_seconds(start) if isinstance(start, int) else "?"
    frequency = str(params.get("frequency", ""))
    if frequency == "once":
        return f"once, at {start_text}"
    interval = params.get("interval") or 1
    unit = UNITS.get(frequency, frequency)
    every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    backfill = ", with backfill" if params.get("backfill") else ""
    return f"{every} from {start_text}{backfill}"


def cell(value: Any, limit: int = 80) -> str:
    """A preview cell: None as empty, long text cut."""
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


FILTERS = {
    "when": utc_from_ms,
    "when_s": utc_from_seconds,
    "compact": compact_utc,
    "count": count,
    "size": size,
    "duration": duration,
    "percent": percent,
    "rate": rate,
    "schedule": schedule,
    "cell": cell,
}
