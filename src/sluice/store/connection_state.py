"""Whether a base, source or target connection is enabled, as its row says."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, select
from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.store.models import Connection, Flow, SourceConnection, TargetConnection
from sluice.store.resources import is_storable_id


def state_of(row: Connection | SourceConnection | TargetConnection) -> str:
    """Base connections keep their state in a column; source and target connections in
    their document (absent means enabled, as every one was before actions existed)."""
    if isinstance(row, Connection):
        return row.state
    return document_state(row.doc)


def document_state(doc: dict[str, Any]) -> str:
    return str(doc.get("state", "enabled"))


def flow_and_connection_states(
    session: Session, tenant: Tenant, flow_id: str
) -> tuple[Flow, list[tuple[str, str]]] | None:
    """The tenant's flow with this id, and the ids and states of its source connection,
    that source's base connection and its target connection in that order (one not found
    is left out), the tenant's rows only, in one statement with only the columns the states
    need: every new run checks them, and this was four round trips. None: no such flow."""
    if not is_storable_id(flow_id):
        return None
    parameters = {"flow_id": flow_id, "org_id": tenant.org_id, "sandbox_id": tenant.sandbox_id}
    row = session.execute(_FLOW_AND_CONNECTION_STATES, parameters).first()
    if row is None:
        return None
    flow, *states = row
    return flow, _states(tuple(states))


def _tenant_rows(model: Any) -> ColumnElement[bool]:
    """The tenant condition, on bound parameters (`org_id`, `sandbox_id`)."""
    return and_(model.org_id == bindparam("org_id"), model.sandbox_id == bindparam("sandbox_id"))


# Built once: on the path of every POST /runs, building the statement and its cache key
# cost as much CPU as executing it.
_FLOW_AND_CONNECTION_STATES = (
    select(
        Flow,
        SourceConnection.id,
        SourceConnection.doc["state"].as_string(),
        Connection.id,
        Connection.state,
        TargetConnection.id,
        TargetConnection.doc["state"].as_string(),
    )
    .outerjoin(
        SourceConnection,
        and_(
            SourceConnection.id == Flow.doc[("sourceConnectionIds", 0)].as_string(),
            _tenant_rows(SourceConnection),
        ),
    )
    .outerjoin(
        Connection,
        and_(Connection.id == SourceConnection.base_connection_id, _tenant_rows(Connection)),
    )
    .outerjoin(
        TargetConnection,
        and_(
            TargetConnection.id == Flow.doc[("targetConnectionIds", 0)].as_string(),
            _tenant_rows(TargetConnection),
        ),
    )
    .where(Flow.id == bindparam("flow_id"), _tenant_rows(Flow))
)


def _states(columns: tuple[Any, ...]) -> list[tuple[str, str]]:
    """The found connections' states; a document's state is read in SQL (its whole
    document would be sent and parsed to read one key), absent meaning enabled."""
    source, source_state, base, base_state, target, target_state = columns
    states = []
    if source is not None:
        states.append((source, source_state if source_state is not None else "enabled"))
    if base is not None:
        states.append((base, base_state))
    if target is not None:
        states.append((target, target_state if target_state is not None else "enabled"))
    return states
