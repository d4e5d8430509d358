"""The body of `POST /runs`: flow id and the run's window, with the reference's codes.

Times are epoch seconds, as JSON numbers or numeric strings (the tutorial sends strings).
Windows are half-open: `[windowStartTime, windowEndTime)`. Unknown fields are ignored, as
the reference does (a widely used client adds `"status": "active"`); `ignored_run_fields`
names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluice.domain.copy_transformation import DELTA_COLUMN_KEYS
from sluice.domain.errors import bad_request
from sluice.domain.numbers import whole_number
from sluice.domain.schedule import MAX_EPOCH_SECONDS

PARAM_KEYS = frozenset({"startTime", "windowStartTime", "windowEndTime", "deltaColumn"})
BODY_KEYS = frozenset({"flowId", "params"})


@dataclass(frozen=True)
class RunRequest:
    flow_id: str
    start_time: int | None
    window_start: int
    window_end: int
    delta_column: str | None

    def params_view(self) -> dict[str, Any]:
        """The run's `params` as shown on the run object."""
        view: dict[str, Any] = {
            "windowStartTime": self.window_start,
            "windowEndTime": self.window_end,
        }
        if self.start_time is not None:
            view["startTime"] = self.start_time
        if self.delta_column is not None:
            view["deltaColumn"] = {"name": self.delta_column}
        return view


def epoch_seconds(value: object, field: str) -> int:
    """An epoch-seconds integer from a JSON integer, an integral float or an ASCII digit string."""
    number = whole_number(value, spaces=True)
    if number is None or not 0 <= number <= MAX_EPOCH_SECONDS:
        raise bad_request(
            1384,
            f"params.{field} must be a time in epoch seconds (a whole number or a string of "
            f"digits, at most {MAX_EPOCH_SECONDS}).",
        )
    return number


def _delta_column(value: object) -> str:
    name = value.get("name") if isinstance(value, Mapping) else None
    if not isinstance(value, Mapping) or not isinstance(name, str) or not name.strip():
        raise bad_request(1384, 'params.deltaColumn must be an object {"name": "<column>"}.')
    return name.strip()


def ignored_run_fields(body: object) -> list[str]:
    """Dotted paths of the fields of a run body that `parse_run_request` ignores."""
    if not isinstance(body, Mapping):
        return []
    found = [str(k) for k in body if k not in BODY_KEYS]
    params = body.get("params")
    if isinstance(params, Mapping):
        found += [f"params.{k}" for k in params if k not in PARAM_KEYS]
        delta = params.get("deltaColumn")
        if isinstance(delta, Mapping):
            found += [f"params.deltaColumn.{k}" for k in delta if k not in DELTA_COLUMN_KEYS]
    return found


def parse_run_request(body: object) -> RunRequest:
    if not isinstance(body, Mapping):
        raise bad_request(1000, "The request body must be a JSON object with flowId and params.")
    flow_id = body.get("flowId")
    if not isinstance(flow_id, str) or not flow_id.strip():
        raise bad_request(1446, "flowId is null or empty; give the id of the flow to run.")
    params = body.get("params")
    if not isinstance(params, Mapping) or not params:
        raise bad_request(
            1384,
            "params is missing or empty; give startTime, windowStartTime "
            "and windowEndTime (epoch seconds).",
        )
    for required in ("windowStartTime", "windowEndTime"):
        if required not in params:
            raise bad_request(1384, f"params.{required} is required (epoch seconds).")
    start = epoch_seconds(params["windowStartTime"], "windowStartTime")
    end = epoch_seconds(params["windowEndTime"], "windowEndTime")
    if end < start:
        raise bad_request(1381, f"WindowEndTime={end} cannot be before Window StartTime={start}")
    if end == start:
        # Half-open, `[t, t)` selects nothing: a run of it could only ever "succeed" empty.
        raise bad_request(
            1381,
            f"WindowEndTime={end} equals WindowStartTime={start}: the window [start, end) is "
            "empty; give an end after the start.",
        )
    start_time = epoch_seconds(params["startTime"], "startTime") if "startTime" in params else None
    delta = _delta_column(params["deltaColumn"]) if "deltaColumn" in params else None
    return RunRequest(flow_id.strip(), start_time, start, end, delta)
