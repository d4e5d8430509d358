"""What a flow reads and writes, resolved inside its tenant: connector spec, credentials,
source and dataset. Shared by the engine (planning a run) and the run service (checking a
first run's delta column), so both see the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sluice.connectors.contract import ConnectionSpec, Connector
from sluice.connectors.registry import find_connector
from sluice.domain.errors import bad_request
from sluice.domain.tenancy import Tenant
from sluice.security.encryption import SecretBox
from sluice.store.connection_state import state_of
from sluice.store.models import Connection, Dataset, Flow, SourceConnection, TargetConnection
from sluice.store.resources import find_row


@dataclass(frozen=True)
class FlowEndpoints:
    connector: Connector
    # Full auth params, secrets included: hand them to connectors only, never render them.
    auth_params: dict[str, Any]
    # The source connection's {"data", "params"} as stored.
    source: dict[str, Any]
    dataset: Dataset


def resolve_endpoints(
    session: Session, tenant: Tenant, flow: Flow, box: SecretBox
) -> FlowEndpoints:
    source_id = flow.doc["sourceConnectionIds"][0]
    source = find_row(session, SourceConnection, tenant, source_id)
    if source is None:
        raise bad_request(
            1380,
            f"Failed to create flow run. Error message: source connection "
            f"{source_id} of flow {flow.id} no longer exists.",
        )
    connector = require_connector(source.connection_spec_id)
    auth: dict[str, Any] = {}
    base = None
    if source.base_connection_id:
        base = find_row(session, Connection, tenant, source.base_connection_id)
        if base is None:
            raise bad_request(
                1380,
                f"Failed to create flow run. Error message: connection "
                f"{source.base_connection_id} no longer exists.",
            )
        auth = full_auth_params(base, box)
    target = find_row(session, TargetConnection, tenant, flow.doc["targetConnectionIds"][0])
    dataset = (
        find_row(session, Dataset, tenant, target.dataset_id)
        if target is not None and target.dataset_id
        else None
    )
    if dataset is None:
        raise bad_request(
            1380,
            f"Failed to create flow run. Error message: the target dataset "
            f"of flow {flow.id} no longer exists.",
        )
    # A connection disabled after the run was created stops it here, before any read.
    for row in (source, base, target):
        if row is not None and state_of(row) != "enabled":
            raise bad_request(
                1444,
                f"Connection {row.id} of flow {flow.id} is disabled; enable it with "
                "POST .../action?op=enable first.",
            )
    source_doc = {"data": source.doc.get("data", {}), "params": source.doc.get("params", {})}
    return FlowEndpoints(connector=connector, auth_params=auth, source=source_doc, dataset=dataset)


def require_connector(spec_id: str) -> Connector:
    """The connector a connection names; 1413 when no connector has that id."""
    connector = find_connector(spec_id)
    if connector is None:
        raise bad_request(
            1413,
            f"Invalid connection spec id '{spec_id}'; list the available "
            "ones with GET /connectionSpecs.",
        )
    return connector


def require_spec(spec_id: str) -> ConnectionSpec:
    return require_connector(spec_id).spec


def full_auth_params(row: Connection, box: SecretBox) -> dict[str, Any]:
    """Public and secret params together, for connectors only; never rendered."""
    auth = row.doc.get("auth") or {}
    return {**auth.get("params", {}), **box.open(row.sealed_secrets)}
