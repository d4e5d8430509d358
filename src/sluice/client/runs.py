"""Following a run until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable

from sluice.client.transport import ApiTransport, JsonObject

TERMINAL_RUN_STATUSES = frozenset({"success", "failed", "cancelled"})
ProgressCallback = Callable[[JsonObject], None]


def run_status(run: JsonObject) -> str:
    summary = (run.get("metrics") or {}).get("statusSummary") or {}
    return str(summary.get("status", ""))


def wait_for_run(
    client: ApiTransport,
    run_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    poll_seconds: float = 0.5,
    timeout_seconds: float | None = None,
) -> JsonObject:
    """Poll a run until it ends; `on_progress` sees every version of it on the way."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        run = client.get_item(f"runs/{run_id}")
        if on_progress is not None:
            on_progress(run)
        if run_status(run) in TERMINAL_RUN_STATUSES:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {run_status(run)} after {timeout_seconds}s")
        time.sleep(poll_seconds)
