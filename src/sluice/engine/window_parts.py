"""How many parts of a run's window are read at once: the flow's `parallelism`, or a default
from the worker's cores where reading in parts cannot change what is read."""

from __future__ import annotations

import os

from sluice.connectors.contract import ConnectionSpec

# Parts a window is read in by default at most: past this, the writer (one thread) is the
# limit and more parts only queue batches in memory.
MAX_DEFAULT_PARTS = 4


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (which `taskset`, cpusets and
    container runtimes narrow), or the machine's count where there is none."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity call
        return os.cpu_count() or 1


def window_parts(option: int | None, spec: ConnectionSpec, cores: int | None = None) -> int:
    """The flow's `parallelism` when it sets one. Without it, half the cores (each part keeps
    one busy decoding; the writer and the rest of the run need the others), at most
    MAX_DEFAULT_PARTS, for sources whose parts read one consistent view
    (`ConnectionSpec.consistent_parts`); 1 for the others, where a row changing during the
    read could be read by two parts or by none. On 2 or 3 cores that is 1: measured on 2, a
    second part saved 5 % of a 5M-row table window and slowed a file window (bench/README.md)."""
    if option is not None:
        return option
    if not spec.consistent_parts:
        return 1
    cores = available_cores() if cores is None else cores
    return max(1, min(MAX_DEFAULT_PARTS, cores // 2))
