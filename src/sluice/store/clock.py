"""Time in the units the wire uses (epoch milliseconds), and fresh identifiers."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    return str(uuid.uuid4())


def new_etag() -> str:
    # The reference's etags carry their double quotes inside the value.
    return f'"{uuid.uuid4()}"'


def utc_now() -> datetime:
    return datetime.now(UTC)


def monotonic_seconds() -> float:
    """For intervals: immune to wall-clock jumps."""
    return time.monotonic()
