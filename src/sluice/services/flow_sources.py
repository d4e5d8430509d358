"""What a flow reads and writes, resolved: connector spec, credentials, source and dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sluice.connectors.contract import Connector
from sluice.domain.errors import bad_request
from sluice.domain.tenancy import Tenant
from sluice.security.encryption import SecretBox
from sluice.services.connection_states import require_enabled_connections
from sluice.services.connections import connections, full_auth_params, require_connector
from sluice.services.datasets import datasets
from sluice.services.source_connections import source_connections
from sluice.services.target_connections import target_connections
from sluice.store.models import Dataset, Flow


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
    # A connection disabled after the run was created stops it here, before any read.
    require_enabled_connections(session, tenant, flow)
    source_id = flow.doc["sourceConnectionIds"][0]
    source = source_connections.find(session, tenant, source_id)
    if source is None:
        raise bad_request(
            1380,
            f"Failed to create flow run. Error message: source connection "
            f"{source_id} of flow {flow.id} no longer exists.",
        )
    connector = require_connector(source.connection_spec_id)
    auth: dict[str, Any] = {}
    if source.base_connection_id:
        base = connections.find(session, tenant, source.base_connection_id)
        if base is None:
            raise bad_request(
                1380,
                f"Failed to create flow run. Error message: connection "
                f"{source.base_connection_id} no longer exists.",
            )
        auth = full_auth_params(base, box)
    target = target_connections.find(session, tenant, flow.doc["targetConnectionIds"][0])
    dataset = (
        datasets.find(session, tenant, target.dataset_id)
        if target is not None and target.dataset_id
        else None
    )
    if dataset is None:
        raise bad_request(
            1380,
            f"Failed to create flow run. Error message: the target dataset "
            f"of flow {flow.id} no longer exists.",
        )
    source_doc = {"data": source.doc.get("data", {}), "params": source.doc.get("params", {})}
    return FlowEndpoints(connector=connector, auth_params=auth, source=source_doc, dataset=dataset)
