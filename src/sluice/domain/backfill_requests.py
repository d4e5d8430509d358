"""The body of `POST /backfills` (a Sluice extension) and the backfill state machine.

    {"flowId": "...", "windowStartTime": 1704067200, "windowEndTime": 1706745600,
     "chunk": {"unit": "day", "size": 1}, "parallelism": 2, "dryRun": false,
     "deltaColumn": {"name": "updated_at"}}

Times are epoch seconds (numbers or digit strings, as for runs); `chunk.size` defaults to
1, `parallelism` to 1, `dryRun` to false. `deltaColumn` is only for a table flow that has
no delta column yet (like its first on-demand run).

A backfill is `running` (chunk runs are being created), `paused` (none are created; live
ones finish), then `success` or `failed` once every chunk has ended, or `cancelled`.
`retry` takes a failed backfill back to `running` for its failed chunks only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sluice.domain.backfill_plan import ChunkSpec, count_option, parse_chunk_spec
from sluice.domain.errors import SluiceError, bad_request
from sluice.domain.run_params import epoch_seconds
from sluice.domain.windows import Window

RUNNING, PAUSED, CANCELLED = "running", "paused", "cancelled"
SUCCEEDED, FAILED = "success", "failed"
LIVE_STATES = (RUNNING, PAUSED)
BODY_KEYS = frozenset(
    {"flowId", "windowStartTime", "windowEndTime", "chunk", "parallelism", "dryRun", "deltaColumn"}
)
MAX_PARALLELISM = 16
INVALID_PARALLELISM = 2302
OVERLAPPING_BACKFILL = 2303
ACTION_NOT_ALLOWED = 2304
UNKNOWN_ACTION = 2305
BackfillAction = Literal["pause", "resume", "cancel", "retry"]
# The status an action moves a backfill to, from the statuses it may start from.
TRANSITIONS: Mapping[BackfillAction, tuple[tuple[str, ...], str]] = {
    "pause": ((RUNNING,), PAUSED),
    "resume": ((PAUSED,), RUNNING),
    "cancel": ((RUNNING, PAUSED), CANCELLED),
    "retry": ((FAILED,), RUNNING),
}


class BackfillConflictError(SluiceError):
    """The backfill would overlap a live one, or the action does not fit its status."""

    code, status, title = OVERLAPPING_BACKFILL, 409, "Conflict"


@dataclass(frozen=True)
class BackfillRequest:
    flow_id: str
    window: Window
    chunk: ChunkSpec
    parallelism: int
    dry_run: bool
    delta_column: str | None


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(1000, f"dryRun {value!r} is not valid; use true or false.")


def _delta_column(value: object) -> str:
    name = value.get("name") if isinstance(value, Mapping) else None
    if not isinstance(name, str) or not name.strip():
        raise bad_request(1384, 'deltaColumn must be an object {"name": "<column>"}.')
    return name.strip()


def parse_backfill_request(body: object) -> BackfillRequest:
    """Validate a create request; every problem is a coded 400 naming the field."""
    if not isinstance(body, Mapping):
        raise bad_request(
            1000,
            "The request body must be a JSON object with flowId, windowStartTime, "
            "windowEndTime and chunk.",
        )
    flow_id = body.get("flowId")
    if not isinstance(flow_id, str) or not flow_id.strip():
        raise bad_request(1446, "flowId is null or empty; give the id of the flow to backfill.")
    for required in ("windowStartTime", "windowEndTime", "chunk"):
        if required not in body:
            raise bad_request(1000, f"{required} is required.")
    start = epoch_seconds(body["windowStartTime"], "windowStartTime")
    end = epoch_seconds(body["windowEndTime"], "windowEndTime")
    if end <= start:
        raise bad_request(
            1381,
            f"windowEndTime={end} must be after windowStartTime={start}; a backfill needs a "
            "non-empty range.",
        )
    chunk = parse_chunk_spec(body["chunk"])
    parallelism = count_option(
        body, "parallelism", "parallelism", maximum=MAX_PARALLELISM, code=INVALID_PARALLELISM
    )
    delta = _delta_column(body["deltaColumn"]) if "deltaColumn" in body else None
    return BackfillRequest(
        flow_id.strip(),
        Window(start, end),
        chunk,
        parallelism,
        _flag(body.get("dryRun", False)),
        delta,
    )


def parse_action(op: str) -> BackfillAction:
    action = op.strip().lower()
    if action not in TRANSITIONS:
        raise bad_request(
            UNKNOWN_ACTION,
            f"Backfill action '{op}' is not supported; use op=pause, resume, cancel or retry.",
        )
    return action  # type: ignore[return-value]


def next_status(action: BackfillAction, current: str, backfill_id: str) -> str:
    """The status `action` moves a backfill to; a coded 409 when it cannot from `current`."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise BackfillConflictError(
            f"Backfill {backfill_id} is {current}; {action} applies to "
            f"{' or '.join(sources)} backfills only.",
            code=ACTION_NOT_ALLOWED,
        )
    return target
