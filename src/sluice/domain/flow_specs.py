"""The two built-in flow specs (table sources and file sources) and their wire shape.

IDs and names are the reference's (section 1): `CRMToAEP` for table-based sources, which need
a delta column on scheduled flows, and `CloudStorageToAEP` for file-based sources. The JSON
Schemas describe what Sluice accepts: numbers may also be numeric strings (section 1.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sluice.domain.expectations import expectations_schema
from sluice.domain.late_data import duration_schema
from sluice.domain.schedule import FREQUENCIES, MAX_EPOCH_SECONDS, MIN_INTERVAL

PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
FLOW_SPEC_VERSION = "1.0"
DRAFT7 = "http://json-schema.org/draft-07/schema#"

# A string of digits, and the same with a value of at least 1 / at least 15.
_DIGITS = "^[0-9]+$"
_AT_LEAST_1 = "^0*[1-9][0-9]*$"
_AT_LEAST_15 = "^0*(1[5-9]|[2-9][0-9]|[1-9][0-9]{2,})$"


def _int_or_digits(description: str, pattern: str = _DIGITS, **number: int) -> dict[str, Any]:
    return {
        "description": description,
        "anyOf": [{"type": "integer", **number}, {"type": "string", "pattern": pattern}],
    }


def _epoch(description: str) -> dict[str, Any]:
    return _int_or_digits(f"{description} (Unix epoch time in seconds).", maximum=MAX_EPOCH_SECONDS)


def _object(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "$schema": DRAFT7,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **extra,
    }


def _delta_column() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The column that separates new rows from rows already ingested.",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "dateFormat": {"type": "string", "examples": ["yyyy-MM-dd HH:mm:ss"]},
            "timezone": {"type": "string", "description": "IANA time zone; UTC by default."},
        },
        "required": ["name"],
        "additionalProperties": False,
    }


def _interval_at_least(minimum: int) -> dict[str, Any]:
    pattern = _AT_LEAST_15 if minimum == 15 else _AT_LEAST_1
    return {
        "properties": {"interval": _int_or_digits(f"At least {minimum}.", pattern, minimum=minimum)}
    }


def _frequency_is(*frequencies: str) -> dict[str, Any]:
    return {"properties": {"frequency": {"enum": list(frequencies)}}, "required": ["frequency"]}


def schedule_schema() -> dict[str, Any]:
    """`PeriodicSchedule`: `once` forbids interval and backfill; minute intervals >= 15."""
    periodic = [f for f in FREQUENCIES if f != "once"]
    return _object(
        {
            "startTime": _epoch("Time of the first run"),
            "frequency": {"type": "string", "enum": list(FREQUENCIES)},
            "interval": _int_or_digits("Number of frequency units between two runs."),
            "backfill": {
                "anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}],
                "default": True,
            },
        },
        ["startTime", "frequency"],
        allOf=[
            {
                "if": _frequency_is("once"),
                "then": {
                    "not": {"anyOf": [{"required": ["interval"]}, {"required": ["backfill"]}]}
                },
            },
            {"if": _frequency_is(*periodic), "then": {"required": ["interval"]}},
            *(
                {
                    "if": _frequency_is(*[f for f in periodic if MIN_INTERVAL[f] == minimum]),
                    "then": _interval_at_least(minimum),
                }
                for minimum in sorted(set(MIN_INTERVAL.values()), reverse=True)
            ),
        ],
    )


def _copy_spec() -> dict[str, Any]:
    return {
        "name": "Copy",
        "spec": _object(
            {"deltaColumn": _delta_column()}, [], description="Incremental copy from the source."
        ),
    }


def _mapping_spec() -> dict[str, Any]:
    return {
        "name": "Mapping",
        "spec": _object(
            {
                "mappingId": {"type": "string", "minLength": 1},
                "mappingVersion": _int_or_digits("Version of the mapping set.", minimum=0),
            },
            [],
            additionalProperties=True,
            description="Mapping from source fields to the target schema.",
        ),
    }


def _option_spec() -> dict[str, Any]:
    return {
        "name": "OptionSpec",
        "spec": _object(
            {
                "errorDiagnosticsEnabled": {
                    "type": "boolean",
                    "default": False,
                    "description": "Keep failed rows with their reason.",
                },
                "partialIngestionPercent": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 100,
                    "description": "Share of failed rows (percent) allowed before the run fails.",
                },
                "writeMode": {
                    "type": "string",
                    "enum": list(WRITE_MODES),
                    "description": "How a run's rows land: append; replaceWindow (the window's "
                    "rows are replaced, the default for table sources); merge on primaryKey.",
                },
                "primaryKey": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                    "uniqueItems": True,
                    "description": "Columns identifying a row, for writeMode merge.",
                },
                "schemaEvolution": {
                    "type": "string",
                    "enum": list(SCHEMA_EVOLUTIONS),
                    "default": ADD_COLUMNS,
                    "description": "Source columns the dataset does not have: addColumns "
                    "adds them to the dataset, frozen drops them, fail fails the run. A type "
                    "change that would lose data always fails the run.",
                },
                "workerQueue": {
                    "type": "string",
                    "pattern": QUEUE_NAME_PATTERN,
                    "description": "The Celery queue this flow's runs are sent to (default "
                    f"{DEFAULT_QUEUE!r}); `sluice worker --queues` picks the queues a worker "
                    "serves, so heavy flows can be pinned to big workers.",
                },
                "settleDelay": duration_schema(
                    "Scheduled flows: how long before its due time a tick's window ends, so "
                    "late rows have settled (see docs/late-data.md)."
                ),
                "lookback": duration_schema(
                    "Scheduled flows: how far each tick's window reaches back into the "
                    "previous one to pick up late rows; needs writeMode replaceWindow or merge."
                ),
                "delayAlertMinutes": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_DELAY_ALERT_MINUTES,
                    "default": DEFAULT_DELAY_ALERT_MINUTES,
                    "description": "A run still in progress this many minutes after it "
                    "started sends the flow_run_delayed webhook event.",
                },
                "expectations": expectations_schema(),
                "parallelism": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PARALLELISM,
                    "description": "How many parts of a run's window are read at once, into "
                    "the run's one commit: table windows of 500,000 rows or more cut on the "
                    "delta column, each part over its own source connection; file windows "
                    "several files at a time. Default 1: each part reads in a snapshot of its "
                    "own, so use it for windows of settled rows.",
                },
            },
            [],
            **{
                "if": {"properties": {"writeMode": {"const": "merge"}}, "required": ["writeMode"]},
                "then": {"required": ["primaryKey"]},
            },
        ),
    }


WRITE_MODES = ("append", "replaceWindow", "merge")
# Celery queues (the `workerQueue` option, `sluice worker --queues`).
QUEUE_NAME_PATTERN = "^[A-Za-z0-9_.-]{1,64}$"
DEFAULT_QUEUE = "sluice"
ADD_COLUMNS, FROZEN, FAIL_ON_NEW_COLUMNS = "addColumns", "frozen", "fail"
SCHEMA_EVOLUTIONS = (ADD_COLUMNS, FROZEN, FAIL_ON_NEW_COLUMNS)
DEFAULT_DELAY_ALERT_MINUTES = 150
MAX_DELAY_ALERT_MINUTES = 7 * 24 * 60
MAX_PARALLELISM = 16


def delay_alert_minutes(options: dict[str, Any] | None) -> int:
    """A flow's `delayAlertMinutes` option (validated at flow creation), or the default."""
    value = (options or {}).get("delayAlertMinutes")
    return int(value) if isinstance(value, int) and value >= 1 else DEFAULT_DELAY_ALERT_MINUTES


def parallelism(options: dict[str, Any] | None) -> int | None:
    """A flow's `parallelism` option (validated at flow creation); None without it, and the
    engine picks (sluice.engine.window_parts)."""
    value = (options or {}).get("parallelism")
    # JSON Schema counts 4.0 as an integer too.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value % 1 == 0:
        return max(1, min(int(value), MAX_PARALLELISM))
    return None


def worker_queue(options: dict[str, Any] | None) -> str:
    """A flow's `workerQueue` option (validated at flow creation), or the default queue."""
    value = (options or {}).get("workerQueue")
    return value if isinstance(value, str) and value else DEFAULT_QUEUE


def schema_evolution(options: dict[str, Any] | None) -> str:
    """A flow's `schemaEvolution` option (validated at flow creation), or `addColumns`."""
    value = (options or {}).get("schemaEvolution")
    return value if value in SCHEMA_EVOLUTIONS else ADD_COLUMNS


def default_write_mode(source_kind: str) -> str:
    """Table windows are replaced (re-running one never duplicates); files are appended."""
    return "replaceWindow" if source_kind == "table" else "append"


@dataclass(frozen=True)
class FlowSpec:
    id: str
    name: str
    source_kind: Literal["table", "file"]
    requires_delta_column: bool

    def run_schema(self) -> dict[str, Any]:
        """`ProviderParams` of an on-demand run (reference section 3)."""
        properties = {
            "startTime": _epoch("When the run may begin"),
            "windowStartTime": _epoch("Start of the data window, inclusive"),
            "windowEndTime": _epoch("End of the data window, exclusive"),
        }
        if self.requires_delta_column:
            properties["deltaColumn"] = _delta_column()
        return _object(properties, list(properties))

    def to_wire(self, source_spec_ids: list[str], target_spec_ids: list[str]) -> dict[str, Any]:
        transformations = [_mapping_spec()]
        if self.requires_delta_column:
            transformations.insert(0, _copy_spec())
        return {
            "id": self.id,
            "name": self.name,
            "providerId": PROVIDER_ID,
            "version": FLOW_SPEC_VERSION,
            "attributes": {
                "isSourceFlow": True,
                "flacValidationSupported": False,
                "frequency": "batch",
            },
            "sourceConnectionSpecIds": list(source_spec_ids),
            "targetConnectionSpecIds": list(target_spec_ids),
            "transformationSpecs": transformations,
            "scheduleSpec": {
                "name": "PeriodicSchedule",
                "type": "Periodic",
                "spec": schedule_schema(),
            },
            "runSpec": {"name": "ProviderParams", "spec": self.run_schema()},
            "optionSpec": _option_spec(),
        }


CRM_TO_AEP = FlowSpec("14518937-270c-4525-bdec-c2ba7cce3860", "CRMToAEP", "table", True)
CLOUD_STORAGE_TO_AEP = FlowSpec(
    "9753525b-82c7-4dce-8a9b-5ccfce2b9876", "CloudStorageToAEP", "file", False
)
_FLOW_SPECS = (CRM_TO_AEP, CLOUD_STORAGE_TO_AEP)


def all_flow_specs() -> tuple[FlowSpec, ...]:
    return _FLOW_SPECS


def find_flow_spec(flow_spec_id: str) -> FlowSpec | None:
    return next((s for s in _FLOW_SPECS if s.id == flow_spec_id), None)
