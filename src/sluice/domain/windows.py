"""Time windows of runs: half-open `[start, end)` in epoch seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Window:
    start: int
    end: int

    def contains(self, epoch_seconds: float) -> bool:
        return self.start <= epoch_seconds < self.end

    @property
    def start_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)

    @property
    def end_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.end, UTC)
