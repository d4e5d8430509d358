"""How a run reads on a terminal: ISO-8601 times and windows, durations, rows/s, flow names."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sluice.client import JsonObject, SluiceApiError, SluiceClient, run_status


def iso_seconds(epoch_seconds: Any) -> str:
    if not isinstance(epoch_seconds, int | float):
        return ""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(epoch_ms: Any) -> str:
    return iso_seconds(epoch_ms / 1000) if isinstance(epoch_ms, int | float) else ""


def window_text(run: JsonObject, separator: str = ", ") -> str:
    params = run.get("params") or {}
    start, end = params.get("windowStartTime"), params.get("windowEndTime")
    if start is None or end is None:
        return "full load"
    return f"[{iso_seconds(int(start))}{separator}{iso_seconds(int(end))})"


def duration_text(milliseconds: int | None) -> str:
    if milliseconds is None:
        return ""
    seconds = max(milliseconds, 0) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def elapsed_ms(run: JsonObject, now_ms: int) -> int | None:
    """Run time so far (in progress) or in all (ended); None before it starts."""
    durations = (run.get("metrics") or {}).get("durationSummary") or {}
    started, completed = durations.get("startedAtUTC"), durations.get("completedAtUTC")
    if not isinstance(started, int):
        return None
    end = completed if isinstance(completed, int) else now_ms
    return max(end - started, 0)


def records(run: JsonObject) -> dict[str, int]:
    summary = (run.get("metrics") or {}).get("recordSummary") or {}
    return {k: int(v or 0) for k, v in summary.items() if isinstance(v, int | float)}


def rate_text(record_count: int, milliseconds: int | None) -> str:
    if not milliseconds or milliseconds <= 0:
        return ""
    return f"{record_count * 1000 / milliseconds:,.0f} rows/s"


def flow_names(client: SluiceClient, flow_ids: Iterable[str]) -> dict[str, str]:
    """Names of the flows, in one request; a flow that is gone keeps its id."""
    wanted = sorted({f for f in flow_ids if f})
    if not wanted:
        return {}
    try:
        found = client.flows.list(property=[f"id=={','.join(wanted)}"], limit=len(wanted))
    except SluiceApiError:
        found = []
    names = {str(f["id"]): str(f.get("name") or f["id"]) for f in found}
    return {f: names.get(f, f) for f in wanted}


def run_row(run: JsonObject, names: dict[str, str], now_ms: int) -> dict[str, str]:
    """One line of `runs list`."""
    counts = records(run)
    took = elapsed_ms(run, now_ms)
    flow_id = str(run.get("flowId", ""))
    return {
        "id": str(run.get("id", "")),
        "flow": f"{names.get(flow_id, flow_id)}\n{flow_id}",
        "status": run_status(run),
        "window": window_text(run, ",\n "),
        "records": f"{counts.get('inputRecordCount', 0):,} / "
        f"{counts.get('outputRecordCount', 0):,} / {counts.get('failedRecordCount', 0):,}",
        "duration": duration_text(took),
        "rate": rate_text(counts.get("inputRecordCount", 0), took),
    }


RUN_ROW_COLUMNS = (
    ("ID", "id"),
    ("Flow", "flow"),
    ("Status", "status"),
    ("Window (UTC)", "window"),
    ("Records in / out / failed", "records"),
    ("Duration", "duration"),
    ("Rows/s", "rate"),
)


def run_facts(run: JsonObject, flow_name: str, now_ms: int) -> dict[str, str]:
    """`runs show`: the facts a person looks for, in order."""
    metrics = run.get("metrics") or {}
    durations = metrics.get("durationSummary") or {}
    sizes = metrics.get("sizeSummary") or {}
    files = metrics.get("fileSummary") or {}
    counts = records(run)
    took = elapsed_ms(run, now_ms)
    facts = {
        "Run": str(run.get("id", "")),
        "Flow": f"{flow_name} ({run.get('flowId', '')})",
        "Status": run_status(run),
        "Window (UTC)": window_text(run),
        "Created": iso_ms(run.get("createdAt")),
        "Started": iso_ms(durations.get("startedAtUTC")),
        "Completed": iso_ms(durations.get("completedAtUTC")),
        "Duration": duration_text(took),
        "Records in / out / failed": f"{counts.get('inputRecordCount', 0):,} / "
        f"{counts.get('outputRecordCount', 0):,} / {counts.get('failedRecordCount', 0):,}",
        "Rows/s": rate_text(counts.get("inputRecordCount", 0), took),
        "Bytes in / out": f"{int(sizes.get('inputBytes', 0) or 0):,} / "
        f"{int(sizes.get('outputBytes', 0) or 0):,}",
        "Files in / out": f"{files.get('inputFileCount', 0)} / {files.get('outputFileCount', 0)}",
    }
    errors = (metrics.get("statusSummary") or {}).get("errors") or []
    for i, error in enumerate(errors):
        facts[f"Error {i + 1}"] = f"{error.get('code')}: {error.get('message')}"
    return {k: v for k, v in facts.items() if v}


def end_line(run: JsonObject, flow_name: str | None, now_ms: int) -> str:
    """The status line printed when a run ends."""
    counts = records(run)
    took = elapsed_ms(run, now_ms)
    rate = rate_text(counts.get("inputRecordCount", 0), took)
    flow = f" ({flow_name})" if flow_name else ""
    return (
        f"Run {run.get('id')}{flow} ended: {run_status(run)} after {duration_text(took) or '0 s'}"
        f", {counts.get('inputRecordCount', 0):,} records in, "
        f"{counts.get('outputRecordCount', 0):,} out, {counts.get('failedRecordCount', 0):,} "
        f"failed" + (f" ({rate})" if rate else "")
    )
