"""Parallel table windows: a window cut on the delta column into contiguous sub-windows, each
read over a connection of its own, all at once, as one read.

Each sub-window is an ordinary read of the connector (`domain.windows.split_window` makes
their bounds meet exactly, so no row is read twice or missed); each counts its own rows in
its own snapshot, and the read's count is their sum. Previews (a row limit) and full loads
(no window) are read as one part, as are windows too short to cut.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sluice.connectors.contract import SourceOpener
from sluice.connectors.errors import TransientReadError
from sluice.connectors.parallel import ParallelRead
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.domain.windows import Window, split_window


def parallel_windows(open_one: SourceOpener) -> SourceOpener:
    """`open_one`, reading `request.parallelism` sub-windows of a window at once."""

    @functools.wraps(open_one)
    def open_source(
        context: Any, auth: Mapping[str, Any], source: Mapping[str, Any], request: ReadRequest
    ) -> SourceRead:
        windows = _sub_windows(request)
        if len(windows) == 1:
            return open_one(context, auth, source, request)
        requests = [dataclasses.replace(request, window=w, parallelism=1) for w in windows]
        return ParallelRead(_open_all(open_one, context, auth, source, requests))

    return open_source


def _sub_windows(request: ReadRequest) -> list[Window | None]:
    if request.window is None or request.limit is not None or not request.delta_column:
        return [request.window]
    return list(split_window(request.window, request.parallelism, request.timezone))


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
