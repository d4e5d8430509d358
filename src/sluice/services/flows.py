"""Flows: a source connection, a target connection, a schedule and transformations."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sluice.connectors.registry import find_spec
from sluice.domain.copy_transformation import validate_copy_transformation
from sluice.domain.errors import bad_request
from sluice.domain.flow_specs import FlowSpec, default_write_mode, find_flow_spec
from sluice.domain.late_data import LATE_DATA_OPTIONS, parse_late_data
from sluice.domain.patching import apply_operations, normalize_operations
from sluice.domain.run_states import IN_PROGRESS, SCHEDULED
from sluice.domain.schedule import Schedule, check_schedule_change, next_tick_at, parse_schedule
from sluice.domain.tenancy import Tenant
from sluice.schemas.flows import FlowCreate
from sluice.schemas.parsing import parse_model
from sluice.schemas.system_fields import system_view
from sluice.services.mapping_sets import check_flow_mapping, link_flow
from sluice.services.source_connections import source_connections
from sluice.services.target_connections import target_connections
from sluice.services.validation import validate_against
from sluice.store.clock import now_ms
from sluice.store.flow_ticks import reschedule
from sluice.store.list_query_sql import ColumnField, ResourceFields, system_fields
from sluice.store.models import Flow, FlowSourceConnection, FlowTargetConnection, Run
from sluice.store.resources import ResourceRepository

FIELDS = ResourceFields(
    model=Flow,
    columns={
        **system_fields(Flow),
        "flowSpec.id": ColumnField(Flow.flow_spec_id),
        "state": ColumnField(Flow.state, case_insensitive=True),
    },
    document_fields=frozenset(
        {
            "description",
            "flowSpec",
            "sourceConnectionIds",
            "targetConnectionIds",
            "transformations",
            "scheduleParams",
            "options",
            "labels",
            "inheritedAttributes",
        }
    ),
    constants={
        "inheritedAttributes.properties.isSourceFlow": "true",
        "inheritedAttributes.properties.isDestinationFlow": "false",
    },
)
# Every Sluice flow reads a source into a dataset: the reference's "source flow".
FLOW_PROPERTIES = {"isSourceFlow": True, "isDestinationFlow": False}
flows = ResourceRepository(Flow, "flows", FIELDS)
PATCHABLE = frozenset(
    {"name", "description", "scheduleParams", "transformations", "options", "labels"}
)
FORBIDDEN_IN_CREATE = {"state": 1410, "mode": 1368}


def _require_flow_spec(spec_id: str) -> FlowSpec:
    spec = find_flow_spec(spec_id)
    if spec is None:
        raise bad_request(
            1413, f"Invalid flow spec id '{spec_id}'; list the available ones with GET /flowSpecs."
        )
    return spec


def _single(ids: list[str], field: str) -> str:
    if len(ids) != 1:
        raise bad_request(
            1000,
            f"{field} must hold exactly one id; Sluice flows read one source and write one target.",
        )
    return ids[0]


def _inherited_attributes(
    session: Session, tenant: Tenant, spec: FlowSpec, source_id: str, target_id: str
) -> dict[str, Any]:
    source = source_connections.find(session, tenant, source_id)
    if source is None:
        raise bad_request(1439, f"Source connection {source_id} is not found.")
    source_spec = find_spec(source.connection_spec_id)
    if source_spec is None or source_spec.source_kind != spec.source_kind:
        raise bad_request(
            1000,
            f"Flow spec '{spec.name}' reads {spec.source_kind}-based "
            f"sources; source connection {source_id} is not one.",
        )
    target = target_connections.find(session, tenant, target_id)
    if target is None:
        raise bad_request(1439, f"Target connection {target_id} is not found.")
    base: dict[str, Any] | None = None
    if source.base_connection_id:
        base = {"id": source.base_connection_id, "connectionSpec": source.doc["connectionSpec"]}
    return {
        "sourceConnections": [
            {
                "id": source.id,
                "connectionSpec": source.doc["connectionSpec"],
                "baseConnection": base,
            }
        ],
        "targetConnections": [{"id": target.id, "connectionSpec": target.doc["connectionSpec"]}],
    }


def _validated_settings(spec: FlowSpec, body: FlowCreate, schedule: Schedule) -> None:
    validate_copy_transformation(
        body.transformations, schedule, requires_delta_column=spec.requires_delta_column
    )
    options = body.options or {}
    late_data = {name: options[name] for name in LATE_DATA_OPTIONS if name in options}
    # The late-data options get their own coded messages (2311, 2312) before the schema's
    # generic 1000.
    parse_late_data(
        late_data,
        periodic=not schedule.is_once,
        write_mode=str(options.get("writeMode") or default_write_mode(spec.source_kind)),
        source_kind=spec.source_kind,
    )
    option_schema = spec.to_wire([], [])["optionSpec"]["spec"]
    validate_against(option_schema, body.options, "options")


def _operation(kind: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    stamp = now_ms()
    return {
        "started": stamp,
        "updated": stamp,
        "percentCompleted": 100,
        "status": {"value": "completed", "errors": []},
        "ops": ops,
        "operation": kind,
    }


def create_flow(session: Session, tenant: Tenant, payload: Any) -> Flow:
    if isinstance(payload, dict):
        for field, code in FORBIDDEN_IN_CREATE.items():
            if field in payload:
                raise bad_request(code, f"'{field}' is not allowed in a flow create request.")
    body = parse_model(FlowCreate, payload)
    spec = _require_flow_spec(body.flow_spec.id)
    source_id = _single(body.source_connection_ids, "sourceConnectionIds")
    target_id = _single(body.target_connection_ids, "targetConnectionIds")
    inherited = _inherited_attributes(session, tenant, spec, source_id, target_id)
    schedule = parse_schedule(body.schedule_params, now=int(time.time()))
    _validated_settings(spec, body, schedule)
    transformations, mapping_set_id = check_flow_mapping(
        session, tenant, body.transformations, target_id, body.options
    )
    doc = {
        "description": body.description or "",
        "flowSpec": {"id": spec.id, "version": body.flow_spec.version or "1.0"},
        "sourceConnectionIds": [source_id],
        "targetConnectionIds": [target_id],
        "inheritedAttributes": inherited,
        "transformations": transformations,
        "scheduleParams": schedule.to_wire(),
        "options": body.options,
        "labels": body.labels,
        "lastOperation": _operation("create", []),
    }
    row = flows.add(
        session,
        tenant,
        body.name,
        doc,
        flow_spec_id=spec.id,
        state="enabled",
        next_tick_at=next_tick_at(schedule, last_created=None),
    )
    session.add(FlowSourceConnection(flow_id=row.id, source_connection_id=source_id))
    session.add(FlowTargetConnection(flow_id=row.id, target_connection_id=target_id))
    session.flush()
    link_flow(session, row.id, mapping_set_id)
    return row


def render_flow(row: Flow, tenant: Tenant) -> dict[str, Any]:
    doc = row.doc
    view = {
        **system_view(row, tenant),
        "description": doc.get("description", ""),
        "flowSpec": doc["flowSpec"],
        "state": row.state,
        "version": row.etag,
        "sourceConnectionIds": doc["sourceConnectionIds"],
        "targetConnectionIds": doc["targetConnectionIds"],
        "inheritedAttributes": {**doc["inheritedAttributes"], "properties": FLOW_PROPERTIES},
        "scheduleParams": doc["scheduleParams"],
        "transformations": doc.get("transformations", []),
        "options": doc.get("options", {}),
        "labels": doc.get("labels", []),
        "runs": f"/runs?property=flowId=={row.id}",
        "lastOperation": doc.get("lastOperation"),
        "_links": {
            "self": {"href": f"/flows/{row.id}"},
            "runs": {"href": f"/flows/{row.id}/runs"},
            "flowSpec": {"href": f"/flowSpecs/{row.flow_spec_id}"},
            "sourceConnections": [
                {"href": f"/sourceConnections/{i}"} for i in doc["sourceConnectionIds"]
            ],
            "targetConnections": [
                {"href": f"/targetConnections/{i}"} for i in doc["targetConnectionIds"]
            ],
        },
    }
    if row.last_run_id:
        view["lastRunDetails"] = {
            "id": row.last_run_id,
            "state": row.last_run_status,
            "startedAtUTC": row.last_run_started_at,
            "completedAtUTC": row.last_run_completed_at,
        }
    return view


def patch_flow(
    session: Session, tenant: Tenant, flow_id: str, operations: object, if_match: str | None
) -> Flow:
    row = flows.get_for_write(session, tenant, flow_id, if_match)
    patch = normalize_operations(operations, PATCHABLE)
    patched = apply_operations(render_flow(row, tenant), patch)
    spec = _require_flow_spec(row.flow_spec_id)
    body = parse_model(
        FlowCreate,
        {
            "name": patched.get("name"),
            "description": patched.get("description"),
            "flowSpec": row.doc["flowSpec"],
            "sourceConnectionIds": row.doc["sourceConnectionIds"],
            "targetConnectionIds": row.doc["targetConnectionIds"],
            "transformations": patched.get("transformations") or [],
            "scheduleParams": patched.get("scheduleParams"),
            "options": patched.get("options") or {},
            "labels": patched.get("labels") or [],
        },
        code=1455,
    )
    now = int(time.time())
    old_schedule = parse_schedule(row.doc["scheduleParams"], now=0)
    schedule = parse_schedule(
        body.schedule_params, now=now, allow_past_start=old_schedule.start_time
    )
    check_schedule_change(old_schedule, schedule, now=now)
    _validated_settings(spec, body, schedule)
    transformations, mapping_set_id = check_flow_mapping(
        session, tenant, body.transformations, row.doc["targetConnectionIds"][0], body.options
    )
    link_flow(session, row.id, mapping_set_id)
    row.name = body.name
    row.doc = {
        **row.doc,
        "description": body.description or "",
        "transformations": transformations,
        "scheduleParams": schedule.to_wire(),
        "options": body.options,
        "labels": body.labels,
        "lastOperation": _operation("update", patch),
    }
    reschedule(session, row)  # the schedule may have changed; the row is locked
    flows.touch(row, tenant)
    session.flush()
    return row


def change_state(
    session: Session, tenant: Tenant, flow_id: str, op: str, if_match: str | None
) -> Flow:
    """`op=enable|disable` (any case); provider-only ops are refused as the reference does."""
    action = op.strip().lower()
    if action in ("finalize", "finalize_update", "publish", "progress"):
        raise bad_request(1402, f"'{action}' is supported for provider requests only.")
    if action not in ("enable", "disable"):
        raise bad_request(1000, f"Unknown flow action '{op}'; use op=enable or op=disable.")
    row = flows.get_for_write(session, tenant, flow_id, if_match, version_required=False)
    target_state = "enabled" if action == "enable" else "disabled"
    if row.state != target_state:
        row.state = target_state
        if target_state == "enabled":
            reschedule(session, row)  # ticks missed while disabled are due at once
        row.doc = {
            **row.doc,
            "lastOperation": _operation(
                "update", [{"op": "replace", "path": "/state", "value": target_state}]
            ),
        }
        flows.touch(row, tenant)
        session.flush()
    return row


def delete_flow(session: Session, tenant: Tenant, flow_id: str) -> None:
    row = flows.get(session, tenant, flow_id, for_update=True)
    active = session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.flow_id == row.id, Run.status.in_((SCHEDULED, IN_PROGRESS)))
    )
    if active:
        raise bad_request(
            1444,
            f"Flow {row.id} has {active} scheduled or in-progress run(s); cancel them "
            "(POST /runs/{id}/action?op=cancel) or disable the flow and wait, then delete it.",
        )
    flows.delete(session, row)
