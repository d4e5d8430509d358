"""`sluice flows show`: a flow's facts in a few lines (the whole of it with --output json)."""

from __future__ import annotations

from typing import Any

from sluice.cli.run_views import iso_ms, iso_seconds
from sluice.client import JsonObject


def _schedule_text(schedule: dict[str, Any]) -> str:
    frequency = str(schedule.get("frequency", ""))
    start = str(schedule.get("startTime") or "")
    begins = iso_seconds(int(start)) if start.lstrip("-").isdigit() else start
    if frequency == "once":
        return f"once, at {begins}"
    backfill = ", with backfill" if schedule.get("backfill") else ""
    return f"{frequency}, every {schedule.get('interval', 1)}, from {begins}{backfill}"


def _delta_column(flow: JsonObject) -> str:
    for transformation in flow.get("transformations") or []:
        if str(transformation.get("name", "")).lower() == "copy":
            delta = (transformation.get("params") or {}).get("deltaColumn") or {}
            return str(delta.get("name") or "")
    return ""


def flow_facts(flow: JsonObject) -> dict[str, str]:
    last = flow.get("lastRunDetails") or {}
    options = flow.get("options") or {}
    facts = {
        "Flow": f"{flow.get('name', '')} ({flow.get('id', '')})",
        "State": str(flow.get("state", "")),
        "Schedule (UTC)": _schedule_text(flow.get("scheduleParams") or {}),
        "Delta column": _delta_column(flow),
        "Options": ", ".join(f"{k}={v}" for k, v in sorted(options.items())),
        "Source connections": ", ".join(flow.get("sourceConnectionIds") or []),
        "Target connections": ", ".join(flow.get("targetConnectionIds") or []),
        "Last run": " ".join(
            part
            for part in (
                str(last.get("state") or ""),
                str(last.get("id") or ""),
                iso_ms(last.get("completedAtUTC") or last.get("startedAtUTC")),
            )
            if part
        ),
        "Created": iso_ms(flow.get("createdAt")),
        "Updated": iso_ms(flow.get("updatedAt")),
        "Etag": str(flow.get("etag", "")),
    }
    return {k: v for k, v in facts.items() if v}
