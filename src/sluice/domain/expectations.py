"""A flow's `expectations` option: what a healthy flow delivers, so that a run that "succeeds"
with too little data, or a flow that stopped succeeding, raises an alert instead of passing in
silence.

`{"minRowsPerRun": 1, "maxAgeWithoutSuccess": {"value": 2, "unit": "hour"}}`: a successful
run that lands fewer than `minRowsPerRun` rows, and an enabled flow whose last success (or
creation, before its first) is older than `maxAgeWithoutSuccess`, each raise the
`flow_expectation_failed` webhook event, a metric and a dashboard badge. Off unless set.
Units are explicit; the JSON Schema in the flow spec's OptionSpec validates the option at
flow creation (coded 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_ROWS_PER_RUN = "minRowsPerRun"
MAX_AGE_WITHOUT_SUCCESS = "maxAgeWithoutSuccess"
DURATION_UNITS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86_400, "week": 604_800}


def expectations_schema() -> dict[str, Any]:
    """The option's JSON Schema (part of the flow specs' OptionSpec)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "Alerts (flow_expectation_failed webhook event, metric, dashboard "
        "badge) when a flow delivers less than expected. Off unless set.",
        "properties": {
            MIN_ROWS_PER_RUN: {
                "type": "integer",
                "minimum": 1,
                "description": "A successful run landing fewer rows than this fails the "
                "expectation (the run stays successful).",
            },
            MAX_AGE_WITHOUT_SUCCESS: {
                "type": "object",
                "additionalProperties": False,
                "required": ["value", "unit"],
                "description": "An enabled flow without a successful run for this long fails "
                'the expectation, e.g. {"value": 2, "unit": "hour"}.',
                "properties": {
                    "value": {"type": "integer", "minimum": 1, "maximum": 100_000},
                    "unit": {"type": "string", "enum": list(DURATION_UNITS)},
                },
            },
        },
    }


@dataclass(frozen=True)
class Expectations:
    min_rows_per_run: int | None = None
    max_age_without_success_seconds: int | None = None

    @property
    def enabled(self) -> bool:
        return self.min_rows_per_run is not None or self.max_age_without_success_seconds is not None


def flow_expectations(options: Mapping[str, Any] | None) -> Expectations:
    """A flow's expectations (validated at flow creation; anything else reads as off)."""
    raw = (options or {}).get("expectations")
    if not isinstance(raw, Mapping):
        return Expectations()
    min_rows = raw.get(MIN_ROWS_PER_RUN)
    age = raw.get(MAX_AGE_WITHOUT_SUCCESS)
    seconds = None
    if isinstance(age, Mapping) and age.get("unit") in DURATION_UNITS:
        value = age.get("value")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            seconds = value * DURATION_UNITS[str(age["unit"])]
    rows = min_rows if isinstance(min_rows, int) and not isinstance(min_rows, bool) else None
    return Expectations(rows if rows is not None and rows >= 1 else None, seconds)


def overdue_since(
    expectations: Expectations, last_success_ms: int | None, created_at_ms: int, now_ms: int
) -> int | None:
    """When the flow's maxAgeWithoutSuccess ran out (epoch ms), or None while it has not:
    the clock starts at the last success, or at the flow's creation before its first."""
    seconds = expectations.max_age_without_success_seconds
    if seconds is None:
        return None
    reference = last_success_ms if last_success_ms is not None else created_at_ms
    deadline = reference + seconds * 1000
    return deadline if now_ms > deadline else None
