"""Target connections: the dataset a flow writes to (the data-lake target spec only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sluice.domain.errors import bad_request
from sluice.domain.tenancy import Tenant
from sluice.schemas.connections import TargetConnectionCreate
from sluice.services import flow_connections
from sluice.services.datasets import datasets
from sluice.services.source_connections import validated_base_connection
from sluice.services.validation import validate_against
from sluice.store.flow_endpoints import require_spec
from sluice.store.list_query_sql import ColumnField, ResourceFields, system_fields
from sluice.store.models import FlowTargetConnection, TargetConnection
from sluice.store.resources import ResourceRepository

DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
DATASETS_PATH = "/data/foundation/catalog/dataSets"
FIELDS = ResourceFields(
    model=TargetConnection,
    columns={
        **system_fields(TargetConnection),
        "connectionSpec.id": ColumnField(TargetConnection.connection_spec_id),
        "baseConnectionId": ColumnField(TargetConnection.base_connection_id),
        "params.dataSetId": ColumnField(TargetConnection.dataset_id),
    },
    document_fields=frozenset({"description", "data", "params", "connectionSpec"}),
)
target_connections = ResourceRepository(TargetConnection, "targetConnections", FIELDS)


def _validated(
    session: Session, tenant: Tenant, body: TargetConnectionCreate
) -> tuple[str | None, str, dict[str, Any]]:
    if body.connection_spec.id != DATA_LAKE_SPEC_ID:
        raise bad_request(1307, f"The allowed value is: {DATA_LAKE_SPEC_ID}.")
    spec = require_spec(DATA_LAKE_SPEC_ID)
    base_id = validated_base_connection(session, tenant, spec, body.base_connection_id)
    validate_against(spec.params_schema, body.params, "params")
    dataset_id = str(body.params["dataSetId"])
    if datasets.find(session, tenant, dataset_id) is None:
        raise bad_request(
            1325,
            f"Invalid dataset id '{dataset_id}': no such dataset in this "
            "sandbox. Create it with POST /data/foundation/catalog/dataSets.",
        )
    return base_id, dataset_id, flow_connections.end_document(body, spec, body.data)


def create_target_connection(
    session: Session, tenant: Tenant, body: TargetConnectionCreate
) -> TargetConnection:
    base_id, dataset_id, doc = _validated(session, tenant, body)
    return target_connections.add(
        session,
        tenant,
        body.name,
        doc,
        connection_spec_id=DATA_LAKE_SPEC_ID,
        base_connection_id=base_id,
        dataset_id=dataset_id,
    )


def render_target_connection(row: TargetConnection, tenant: Tenant) -> dict[str, Any]:
    view = flow_connections.render_end(row, tenant, "/targetConnections")
    if row.dataset_id:
        # Another service: a whole path, not one relative to the flow service.
        view["_links"]["dataSet"] = {"href": f"{DATASETS_PATH}/{row.dataset_id}"}
    return view


def patch_target_connection(
    session: Session, tenant: Tenant, target_id: str, operations: object, if_match: str | None
) -> TargetConnection:
    row, body = flow_connections.patched_body(
        session,
        tenant,
        target_connections,
        TargetConnectionCreate,
        target_id,
        operations,
        if_match,
    )
    _base, dataset_id, doc = _validated(session, tenant, body)
    row.dataset_id = dataset_id
    return flow_connections.store_patched(session, tenant, target_connections, row, body.name, doc)


def delete_target_connection(session: Session, tenant: Tenant, target_id: str) -> None:
    flow_connections.delete_unless_used(
        session,
        tenant,
        target_connections,
        target_id,
        FlowTargetConnection.target_connection_id,
        FlowTargetConnection.flow_id,
        "write to",
    )
