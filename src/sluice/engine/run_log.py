"""A run's structured log as the worker writes it: buffered, coalesced, bounded, scrubbed.

Entries wait in memory and reach the database only inside transactions the runner opens
anyway (progress, retry, end), so the data path never pays a round trip per batch. Batches
are not logged one by one: read progress becomes one entry at growing intervals (1 s, 2 s,
4 s, ... up to a minute), so a long run writes tens of entries, not thousands. A run keeps at
most `max_entries`; past that, entries are dropped and a last entry says how many, while
room stays reserved for how the run ended. Every message goes through `redact` with the
connection's secrets first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from sluice.domain.secrets import redact
from sluice.engine.metrics import RunMetrics
from sluice.store import clock, run_logs
from sluice.store.run_logs import LogLine

INFO, WARNING, ERROR = "info", "warning", "error"
# Entries kept free, until the run ends, for its commit, retry or failure and its outcome.
RESERVED_FOR_END = 8
MAX_PROGRESS_INTERVAL_MS = 60_000


def counters_of(metrics: RunMetrics) -> dict[str, int]:
    return {
        "recordsRead": metrics.input_records,
        "recordsWritten": metrics.output_records,
        "recordsFailed": metrics.failed_records,
        "bytesRead": metrics.input_bytes,
        "filesRead": len(metrics.input_files),
    }


class RunLog:
    """One attempt's log writer; `flush` stores what is pending inside the caller's
    transaction (so a worker whose claim was refused stores nothing either)."""

    def __init__(
        self,
        run_id: str,
        attempt: int,
        *,
        max_entries: int,
        secrets: Iterable[str] = (),
        first_progress_interval_ms: int = 1_000,
        now_ms: Callable[[], int] = clock.now_ms,
    ) -> None:
        self.run_id = run_id
        self.attempt = attempt
        self._max_entries = max(max_entries, RESERVED_FOR_END + 2)
        self._secrets = tuple(secrets)
        self._now_ms = now_ms
        self._pending: list[LogLine] = []
        self._stored: int | None = None  # entries the run has, read at the first flush
        self._dropped = 0
        self._progress_interval_ms = max(first_progress_interval_ms, 1)
        self._next_progress_at = 0
        self._last_progress: dict[str, int] | None = None
        self.batches = 0
        self._started_files: set[str] = set()

    def add(
        self, level: str, stage: str, message: str, counters: dict[str, Any] | None = None
    ) -> None:
        if len(self._pending) >= self._max_entries:  # nothing more could be stored anyway
            self._dropped += 1
            return
        text = redact(message, self._secrets)
        self._pending.append(LogLine(self._now_ms(), level, stage, text, counters))

    def info(self, stage: str, message: str, counters: dict[str, Any] | None = None) -> None:
        self.add(INFO, stage, message, counters)

    def warning(self, stage: str, message: str, counters: dict[str, Any] | None = None) -> None:
        self.add(WARNING, stage, message, counters)

    def error(self, stage: str, message: str, counters: dict[str, Any] | None = None) -> None:
        self.add(ERROR, stage, message, counters)

    def file_started(self, path: str | None, metrics: RunMetrics) -> None:
        """A file source's first batch of a file (files read at once interleave theirs)."""
        if path is None or path in self._started_files:
            return
        self._started_files.add(path)
        self.info("file", f"Reading file {path}", counters_of(metrics))

    def progress(self, metrics: RunMetrics, *, force: bool = False) -> None:
        """One coalesced `read` entry, if the counters moved and its interval has passed."""
        counters = {**counters_of(metrics), "batches": self.batches}
        now = self._now_ms()
        if counters == self._last_progress or (not force and now < self._next_progress_at):
            return
        self.info(
            "read",
            f"Read {metrics.input_records:,} records in {self.batches:,} "
            f"{'batch' if self.batches == 1 else 'batches'} "
            f"({metrics.input_bytes:,} bytes) so far",
            counters,
        )
        self._last_progress = counters
        self._next_progress_at = now + self._progress_interval_ms
        self._progress_interval_ms = min(self._progress_interval_ms * 2, MAX_PROGRESS_INTERVAL_MS)

    def flush(self, session: Session, *, final: bool = False) -> None:
        """Store the pending entries; `final` when the attempt ends (retry or outcome)."""
        if not self._pending and not (final and self._dropped):
            return
        if self._stored is None:
            self._stored = run_logs.last_seq(session, self.run_id)
        room = self._max_entries - self._stored
        if final:
            note = 1 if self._dropped or len(self._pending) > room else 0
            take = max(room - note, 0)  # the last entries: how the attempt ended
            keep = self._pending[len(self._pending) - take :] if take else []
        else:
            keep = self._pending[: max(room - RESERVED_FOR_END, 0)]
        self._dropped += len(self._pending) - len(keep)
        lines = list(keep)
        if final and self._dropped and len(lines) < room:
            lines.append(
                LogLine(
                    self._now_ms(),
                    WARNING,
                    "log",
                    f"truncated: {self._dropped:,} entries dropped (a run keeps at most "
                    f"{self._max_entries:,})",
                    {"dropped": self._dropped},
                )
            )
            self._dropped = 0
        run_logs.append(session, self.run_id, self.attempt, self._stored + 1, lines)
        self._stored += len(lines)
        self._pending = []
