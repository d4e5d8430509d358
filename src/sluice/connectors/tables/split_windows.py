"""Parallel table windows: a large window cut on the delta column into contiguous
sub-windows, each read over a connection of its own, all at once, as one read.

The window is first opened as one read, as always. A reader told it may split (a request
with `parallelism` > 1, `may_split`) calls `offer_split` with the window's rows before it
starts reading them (its count, or the database planner's estimate where counting first
would cost a pass over the window): a window of fewer than two parts' worth of rows
(`MIN_ROWS_PER_PART` each) is read as it is, so a small run pays nothing for the option (a
connection costs tens of milliseconds); a larger one ends that read (before any row moved)
and is read in sub-windows instead. Each sub-window is an ordinary read of the connector
(`domain.windows.split_window` makes their bounds meet exactly, so no row is read twice or
missed); each counts its own rows in its own snapshot, unless the reader shares the one it
decided the cut in (PostgreSQL exports it: every part then sees exactly the rows of that
snapshot), and the read's count is their sum.
Previews (a row limit) and full loads (no window) are read as one part, as are windows too
short to cut.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sluice.connectors.contract import SourceOpener
from sluice.connectors.errors import TransientReadError
from sluice.connectors.merged_reads import ParallelRead
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.domain.windows import Window, split_window

# Rows a sub-window should hold at least for its own connection to pay off.
MIN_ROWS_PER_PART = 250_000


class SplitWindowError(Exception):
    """Raised by a reader's `offer_split`: read the window in `parts` sub-windows instead.

    A reader that can share its snapshot calls `share` before the error leaves it: the parts
    then read in that snapshot, and `release` (which keeps the snapshot alive until then, e.g.
    by holding its transaction open) is called once every part has opened."""

    def __init__(self, parts: int) -> None:
        super().__init__(f"read the window in {parts} parts")
        self.parts = parts
        self.snapshot: str | None = None
        self._release: Callable[[], None] | None = None

    def share(self, snapshot: str, release: Callable[[], None]) -> None:
        self.snapshot, self._release = snapshot, release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def may_split(request: ReadRequest) -> bool:
    """Whether `request` could be read in parts at all (a window that can be cut, a
    `parallelism` above 1), whatever its rows."""
    return request.parallelism > 1 and _sub_windows(request, 2) != [request.window]


def offer_split(request: ReadRequest, rows: int | None) -> None:
    """Called by a reader with its window's row count (or an estimate of it), before any row
    is read: raises SplitWindowError when the window is worth reading in parts (the reader's
    own clean-up for a failed open releases its connection)."""
    if rows is None or not may_split(request):
        return
    parts = min(request.parallelism, rows // MIN_ROWS_PER_PART)
    if parts > 1:
        raise SplitWindowError(parts)


def parallel_windows(open_one: SourceOpener) -> SourceOpener:
    """`open_one`, reading a large window in up to `request.parallelism` sub-windows at once
    (the reader calls `offer_split`)."""

    @functools.wraps(open_one)
    def open_source(
        context: Any, auth: Mapping[str, Any], source: Mapping[str, Any], request: ReadRequest
    ) -> SourceRead:
        try:
            return open_one(context, auth, source, request)
        except SplitWindowError as split:
            cut = split
        try:
            windows = _sub_windows(request, cut.parts)
            requests = [
                dataclasses.replace(request, window=w, parallelism=1, snapshot=cut.snapshot)
                for w in windows
            ]
            if len(requests) == 1:
                return open_one(context, auth, source, requests[0])
            return ParallelRead(_open_all(open_one, context, auth, source, requests))
        finally:
            cut.release()  # every part has its snapshot now (or failed to open)

    return open_source


def _sub_windows(request: ReadRequest, parts: int) -> list[Window | None]:
    if request.window is None or request.limit is not None or not request.delta_column:
        return [request.window]
    return list(split_window(request.window, parts, request.timezone))


def _open_all(
    open_one: SourceOpener,
    context: Any,
    auth: Mapping[str, Any],
    source: Mapping[str, Any],
    requests: list[ReadRequest],
) -> list[SourceRead]:
    """Every sub-window's read, opened at once (connecting and counting overlap); when one
    fails, the others are closed and the first sub-window's failure is raised."""
    with ThreadPoolExecutor(len(requests), thread_name_prefix="sluice-open") as pool:
        futures = [pool.submit(open_one, context, auth, source, r) for r in requests]
    reads = [f.result() for f in futures if f.exception() is None]
    failure = next((f.exception() for f in futures if f.exception() is not None), None)
    if failure is None and any(read.schema != reads[0].schema for read in reads):
        failure = TransientReadError("The table changed while its read was starting.")
    if failure is not None:
        for read in reads:
            with contextlib.suppress(Exception):
                read.close()
        raise failure
    return reads
