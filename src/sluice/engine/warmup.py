"""Loading the run engine (the runner, and with it pyarrow and deltalake) before a process's
first run needs it.

An idle server holds no data library (tests/test_lazy_imports.py): the engine loads with the
first run, which then waits 80-150 ms for it (bench/README.md, "Ninth round"). A process that
is about to run something loads it in the background instead, as soon as it knows: a server
or worker whose store holds an enabled flow when it starts, a server whose API has just
created a connection or a flow, or enabled a flow. The load is process-wide and happens once;
a run that starts before it ends waits on Python's import lock for the rest, as it would have
loaded it itself.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("sluice.engine")

ENGINE_MODULE = "sluice.engine.runner"

_lock = threading.Lock()
_loading: threading.Thread | None = None
_asked_outright = False  # a call without `wanted` came: load whatever `wanted` says


def load_in_background(wanted: Callable[[], bool] | None = None) -> None:
    """Load the engine in a thread of its own, once per process: later calls do nothing.
    With `wanted`, the thread asks it first (a database query, say) and loads only on True;
    a `wanted` that raises is logged and loads nothing, leaving the load to a later call or
    to the first run."""
    global _loading, _asked_outright
    with _lock:
        _asked_outright = _asked_outright or wanted is None
        if _loading is not None:
            return
        _loading = threading.Thread(
            target=_load, args=(wanted,), name="sluice-engine-load", daemon=True
        )
        _loading.start()


def _load(wanted: Callable[[], bool] | None) -> None:
    global _loading
    if wanted is not None:
        try:
            needed = wanted()
        except Exception:
            log.warning("could not tell whether runs are coming; the engine loads with the first")
            needed = False
        with _lock:
            if not needed and not _asked_outright:
                _loading = None  # a later call (a flow created) may still load it
                return
    started = time.perf_counter()
    try:
        importlib.import_module(ENGINE_MODULE)
    except Exception:
        # The first run imports it again and fails with the real error, coded, in its record.
        log.exception("loading the run engine ahead of the first run failed")
        return
    if gc.get_freeze_count():
        # A serving process keeps its startup heap out of collections (cli/serving_heap); the
        # engine's modules live as long, so they join it rather than be walked by every full
        # collection. (What a request holds at this instant is frozen too: freed as usual by
        # its reference count, only a cycle among it would stay.)
        gc.freeze()
    log.debug("run engine loaded in %.0f ms", (time.perf_counter() - started) * 1000)
