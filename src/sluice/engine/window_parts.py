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
    """The flow's `parallelism` when it sets one. Without it, for sources whose parts read one
    consistent view (`ConnectionSpec.consistent_parts`), `spec.parts_per_core` parts per core,
    at least 1 and at most MAX_DEFAULT_PARTS; 1 for the others, where a row changing during
    the read could be read by two parts or by none. Databases take half the cores (their
    server's work and the writer need the others): on 2 cores a second part saved nothing of
    a 5M-row table window and cost 12 % more memory. File sources take every core (a part's
    work is all parsing, here): on 2 cores 2 parts took 11 % less time than 1
    (bench/README.md, "Fifth round")."""
    if option is not None:
        return option
    if not spec.consistent_parts:
        return 1
    cores = available_cores() if cores is None else cores
    return max(1, min(MAX_DEFAULT_PARTS, int(cores * spec.parts_per_core)))
