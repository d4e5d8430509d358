"""What a claimed run will do, read from the database before any data moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from sluice.connectors.reading import SourceFile
from sluice.domain.copy_transformation import delta_column_timezone
from sluice.domain.errors import SluiceError
from sluice.domain.expectations import Expectations, flow_expectations
from sluice.domain.flow_specs import (
    default_write_mode,
    find_flow_spec,
    parallelism,
    schema_evolution,
)
from sluice.domain.mapping_sets import MappingRule, mapping_reference, rules_of
from sluice.domain.tenancy import Tenant
from sluice.domain.windows import Window
from sluice.engine import claims
from sluice.engine.engine_context import EngineContext
from sluice.engine.window_parts import window_parts
from sluice.lake.location import LakeTable
from sluice.store import clock
from sluice.store.datasets import table_location
from sluice.store.flow_endpoints import FlowEndpoints, resolve_endpoints
from sluice.store.mapping_versions import find_version, latest_version
from sluice.store.models import Flow, Run
from sluice.store.runs import SCHEDULER_CLIENT, earlier_runs_of_input

MAPPING_UNAVAILABLE = "CONNECTOR-2004-400"
# File formats whose column types are guessed from text: a cast of them is parsing, checked
# value by value, never a schema change.
_TEXT_FORMATS = frozenset({"delimited", "json"})


class RunFailedError(Exception):
    """Ends the run as failed with a coded error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RunPlan:
    """Everything about the run read from the database before any data moves."""

    run_id: str
    flow_id: str
    window: Window | None
    delta_column: str | None
    timezone: str
    write_mode: str
    primary_key: tuple[str, ...]
    error_diagnostics: bool
    partial_percent: float
    files: tuple[SourceFile, ...] | None
    doc: dict[str, Any]
    endpoints: FlowEndpoints
    table: LakeTable
    started_at: int
    target_connection_id: str
    is_file_source: bool
    cancel_requested: bool
    # The pinned mapping set version's rules; None maps source columns by name.
    mapping: tuple[MappingRule, ...] | None = None
    schema_evolution: str = "addColumns"
    # False when the source's column types are guesses from text (CSV, JSON lines).
    typed_source: bool = True
    # A re-trigger: the earlier runs of its chain that may have committed the same input
    # before failing; the writer lands nothing if one of them did.
    earlier_runs: tuple[str, ...] = ()
    # The flow's `expectations` option (off unless set).
    expectations: Expectations = field(default_factory=Expectations)
    # Parts of the window read at once: the flow's `parallelism`, or the worker's default.
    parallelism: int = 1


def load_plan(ctx: EngineContext, claim: claims.Claim) -> RunPlan:
    with ctx.sessions() as session:
        run = session.get(Run, claim.run_id)
        flow = session.get(Flow, run.flow_id) if run is not None else None
        if run is None or flow is None:
            raise RunFailedError("CONNECTOR-1001-500", "The run or its flow no longer exists.")
        tenant = Tenant(run.org_id, run.sandbox_id, "", SCHEDULER_CLIENT)
        try:
            endpoints = resolve_endpoints(session, tenant, flow, ctx.secret_box)
        except SluiceError as error:
            raise RunFailedError("CONNECTOR-1001-500", error.message) from None
        spec = find_flow_spec(flow.flow_spec_id)
        options = dict(flow.doc.get("options") or {})
        source_kind = spec.source_kind if spec else "table"
        window = (
            Window(run.window_start, run.window_end)
            if run.window_start is not None and run.window_end is not None
            else None
        )
        files = run.doc.get("files")
        mapping = _mapping_rules(session, tenant, flow)
        file_format = str((endpoints.source.get("data") or {}).get("format", "")).lower()
        return RunPlan(
            run_id=run.id,
            flow_id=flow.id,
            window=window,
            delta_column=run.delta_column,
            timezone=delta_column_timezone(flow.doc.get("transformations", [])),
            write_mode=str(options.get("writeMode") or default_write_mode(source_kind)),
            primary_key=tuple(options.get("primaryKey") or ()),
            error_diagnostics=bool(options.get("errorDiagnosticsEnabled", False)),
            partial_percent=float(options.get("partialIngestionPercent", 0) or 0),
            files=tuple(SourceFile(**f) for f in files) if files is not None else None,
            doc=dict(run.doc),
            endpoints=endpoints,
            table=table_location(ctx.lake, endpoints.dataset),
            started_at=run.started_at or clock.now_ms(),
            target_connection_id=flow.doc["targetConnectionIds"][0],
            is_file_source=source_kind == "file",
            cancel_requested=run.cancel_requested,
            mapping=mapping,
            schema_evolution=schema_evolution(options),
            typed_source=not (source_kind == "file" and file_format in _TEXT_FORMATS),
            earlier_runs=earlier_runs_of_input(session, run),
            expectations=flow_expectations(options),
            parallelism=window_parts(parallelism(options), endpoints.connector.spec),
        )


def _mapping_rules(session: Session, tenant: Tenant, flow: Flow) -> tuple[MappingRule, ...] | None:
    """The rules of the mapping set version the flow pins (the latest if it pins none)."""
    try:
        reference = mapping_reference(list(flow.doc.get("transformations") or []))
    except SluiceError as error:
        raise RunFailedError(MAPPING_UNAVAILABLE, error.message) from None
    if reference is None:
        return None
    version = reference.version
    if version is None:
        version = latest_version(session, tenant, reference.mapping_id)
    stored = find_version(session, tenant, reference.mapping_id, version)
    if stored is None:
        raise RunFailedError(
            MAPPING_UNAVAILABLE,
            f"Mapping set {reference.mapping_id} version {version} no longer exists; point the "
            "flow's Mapping transformation at an existing version.",
        )
    try:
        return rules_of(stored.doc)
    except SluiceError as error:  # stored versions were validated; this guards old data
        raise RunFailedError(MAPPING_UNAVAILABLE, error.message) from None
