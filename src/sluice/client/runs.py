"""Following a run (or its log) until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable

from sluice.client.transport import ApiTransport, JsonObject

TERMINAL_RUN_STATUSES = frozenset({"success", "failed", "cancelled"})
ProgressCallback = Callable[[JsonObject], None]
LOG_PAGE = 500


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


def log_page(client: ApiTransport, run_id: str, *, since: int = 0, limit: int = 100) -> JsonObject:
    """Entries of the run's log after `since`, with `runStatus` and the next `since`."""
    page: JsonObject = client.get(f"runs/{run_id}/logs", {"since": since, "limit": limit})
    return page


def follow_log(
    client: ApiTransport,
    run_id: str,
    on_entry: Callable[[JsonObject], None],
    *,
    since: int = 0,
    poll_seconds: float = 0.5,
    timeout_seconds: float | None = None,
) -> str:
    """Hand every log entry to `on_entry` as it is written, until the run ends; its final
    status. A page that reports a final status holds every entry up to the end, so the
    entries after it are the last."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        page = log_page(client, run_id, since=since, limit=LOG_PAGE)
        items = page.get("items") or []
        for entry in items:
            on_entry(entry)
        since = int(page.get("since", since))
        status = str(page.get("runStatus", ""))
        if len(items) == LOG_PAGE:
            continue
        if status in TERMINAL_RUN_STATUSES:
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {status} after {timeout_seconds}s")
        time.sleep(poll_seconds)
