"""The flow wizard's form, as typed, and the API request bodies it means.

Nothing is checked here beyond reading the inputs: the bodies go to the API's service
functions (`services.flow_authoring`), which give the usual coded errors. Empty inputs are
left out of the bodies so that the services name what is missing.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData

from sluice.domain.flow_specs import (
    CLOUD_STORAGE_TO_AEP,
    CRM_TO_AEP,
    SCHEMA_EVOLUTIONS,
    WRITE_MODES,
    default_write_mode,
)
from sluice.domain.schedule import FREQUENCIES, Schedule, first_missing_tick, tick_window
from sluice.services.flow_authoring import DATASET_ID, SOURCE_ID, TARGET_ID, FlowBodies
from sluice.services.target_connections import DATA_LAKE_SPEC_ID
from sluice.ui.file_options import FileOptions
from sluice.ui.formatting import input_value, parse_input_value

TICKS_SHOWN = 5
# What the selects of the wizard and of the flow edit form offer (template variables).
FORM_CHOICES: dict[str, tuple[str, ...]] = {
    "write_modes": WRITE_MODES,
    "schema_evolutions": SCHEMA_EVOLUTIONS,
    "frequencies": FREQUENCIES,
}


@dataclass(frozen=True)
class WizardForm:
    """Every input of the wizard, as text (multi-valued ones comma-joined)."""

    connection: str = ""
    kind: str = "table"  # table or file: which flow spec reads the source
    table: str = ""
    path: str = ""
    sample: str = ""  # the file picked while exploring, read to reflect the columns
    file_type: str = ""
    column_delimiter: str = ""
    header: str = ""
    compression_type: str = ""
    recursive: str = ""
    dataset_mode: str = "new"
    dataset_name: str = ""
    dataset_id: str = ""
    write_mode: str = ""
    primary_key: str = ""
    schema_evolution: str = ""
    delta_column: str = ""
    error_diagnostics: str = ""
    partial_percent: str = ""
    frequency: str = "hour"
    interval: str = "1"
    backfill: str = ""
    start_at: str = ""
    name: str = ""
    description: str = ""

    @classmethod
    def from_form(cls, form: FormData) -> WizardForm:
        values: dict[str, str] = {}
        for item in fields(cls):
            typed = [v.strip() for v in form.getlist(item.name) if isinstance(v, str)]
            values[item.name] = ",".join(v for v in typed if v)
        return cls(**values)

    @classmethod
    def starting(cls, connection: str, kind: str, place: str, **options: str) -> WizardForm:
        """The form a "start a flow" link opens: the picked object, a start in 10 minutes."""
        start = input_value((int(time.time()) // 60 + 10) * 60)
        # `in/orders.csv` and `shop.orders` both suggest the name `orders`.
        stem = place.rsplit("/", 1)[-1].rsplit(".", 1)[0 if kind == "file" else -1]
        table_or_file = {"path": place, "sample": place} if kind == "file" else {"table": place}
        return cls(
            connection=connection,
            kind=kind,
            dataset_name=stem,
            name=f"{stem} flow" if stem else "",
            start_at=start,
            **table_or_file,
            **{k: v for k, v in options.items() if k in {f.name for f in fields(cls)}},
        )

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def is_file(self) -> bool:
        return self.kind == "file"

    @property
    def file_options(self) -> FileOptions:
        return FileOptions(
            self.file_type, self.column_delimiter, self.compression_type, self.header
        )

    @property
    def primary_keys(self) -> list[str]:
        return [k.strip() for k in self.primary_key.split(",") if k.strip()]

    def schedule_params(self) -> dict[str, Any]:
        seconds = parse_input_value(self.start_at)
        # Unreadable: sent as typed, so the schedule rules answer with their code (1340).
        params: dict[str, Any] = {
            "startTime": seconds if seconds is not None else self.start_at,
            "frequency": self.frequency,
        }
        if self.frequency != "once":
            params["interval"] = int(self.interval) if self.interval.isdigit() else self.interval
            params["backfill"] = self.backfill == "on"
        return params

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.write_mode:
            options["writeMode"] = self.write_mode
        if self.primary_keys:
            options["primaryKey"] = self.primary_keys
        if self.schema_evolution:
            options["schemaEvolution"] = self.schema_evolution
        if self.error_diagnostics == "on":
            options["errorDiagnosticsEnabled"] = True
        if self.partial_percent:
            try:
                options["partialIngestionPercent"] = float(self.partial_percent)
            except ValueError:
                options["partialIngestionPercent"] = self.partial_percent
        return options

    def _source_body(self, spec_id: str) -> dict[str, Any]:
        if not self.is_file:
            data: dict[str, Any] = {"format": "tabular"}
            params: dict[str, Any] = {"tableName": self.table}
        else:
            data = {"format": self.file_type or "delimited"}
            if self.column_delimiter:
                data["columnDelimiter"] = self.column_delimiter
            if self.header:
                data["header"] = self.header == "true"
            if self.compression_type:
                data["properties"] = {"compressionType": self.compression_type}
            params = {"path": self.path}
            if self.recursive == "on":
                params["recursive"] = True
        return {
            "name": f"{self.name} source",
            "baseConnectionId": self.connection,
            "connectionSpec": {"id": spec_id, "version": "1.0"},
            "data": data,
            "params": params,
        }

    def bodies(self, connection_spec_id: str) -> FlowBodies:
        """The bodies of POST /sourceConnections, /dataSets, /targetConnections, /flows."""
        new_dataset = self.dataset_mode != "existing"
        flow_spec = CLOUD_STORAGE_TO_AEP if self.is_file else CRM_TO_AEP
        transformations: list[dict[str, Any]] = []
        # A `once` flow takes its delta column with its first windowed run, not here (1369).
        if self.delta_column and not self.is_file and self.frequency != "once":
            transformations.append(
                {"name": "Copy", "params": {"deltaColumn": {"name": self.delta_column}}}
            )
        flow: dict[str, Any] = {
            "name": self.name,
            "flowSpec": {"id": flow_spec.id, "version": "1.0"},
            "sourceConnectionIds": [SOURCE_ID],
            "targetConnectionIds": [TARGET_ID],
            "transformations": transformations,
            "scheduleParams": self.schedule_params(),
            "options": self.options(),
        }
        if self.description:
            flow["description"] = self.description
        return FlowBodies(
            source_connection=self._source_body(connection_spec_id),
            dataset={"name": self.dataset_name} if new_dataset else None,
            target_connection={
                "name": f"{self.name} target",
                "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
                "params": {"dataSetId": DATASET_ID if new_dataset else self.dataset_id},
            },
            flow=flow,
        )

    @property
    def default_write_mode(self) -> str:
        return default_write_mode("file" if self.is_file else "table")


@dataclass(frozen=True)
class Tick:
    """One upcoming run: when it is due and the window it reads (None: a full load)."""

    at: int
    window_start: int | None
    window_end: int | None

    @property
    def iso(self) -> str:
        return datetime.fromtimestamp(self.at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def upcoming_ticks(schedule: Schedule, count: int = TICKS_SHOWN) -> list[Tick]:
    """The first runs a new flow with this schedule gets (DESIGN section 6)."""
    first = first_missing_tick(schedule, None)
    last = first + 1 if schedule.is_once else first + count
    ticks = []
    for k in range(first, last):
        window = tick_window(schedule, k)
        ticks.append(
            Tick(
                at=schedule.tick_time(k),
                window_start=window.start if window else None,
                window_end=window.end if window else None,
            )
        )
    return ticks
