"""Whether a base, source or target connection is enabled, as its row says."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from sluice.domain.tenancy import Tenant
from sluice.store.list_query_sql import tenant_scope
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
    source_id = Flow.doc[("sourceConnectionIds", 0)].as_string()
    target_id = Flow.doc[("targetConnectionIds", 0)].as_string()
    statement = _with_connection_states(select(Flow), tenant, source_id, target_id).where(
        Flow.id == flow_id, tenant_scope(Flow, tenant)
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    flow, *states = row
    return flow, _states(tuple(states))


def _with_connection_states(
    statement: Select[Any],
    tenant: Tenant,
    source_id: ColumnElement[str],
    target_id: ColumnElement[str],
) -> Select[Any]:
    """`statement` with the state columns of the source, base and target connections
    (outer joins: a row not found gives nulls)."""
    return (
        statement.add_columns(
            SourceConnection.id,
            SourceConnection.doc,
            Connection.id,
            Connection.state,
            TargetConnection.id,
            TargetConnection.doc,
        )
        .outerjoin(
            SourceConnection,
            and_(SourceConnection.id == source_id, tenant_scope(SourceConnection, tenant)),
        )
        .outerjoin(
            Connection,
            and_(
                Connection.id == SourceConnection.base_connection_id,
                tenant_scope(Connection, tenant),
            ),
        )
        .outerjoin(
            TargetConnection,
            and_(TargetConnection.id == target_id, tenant_scope(TargetConnection, tenant)),
        )
    )


def _states(columns: tuple[Any, ...]) -> list[tuple[str, str]]:
    source, source_doc, base, base_state, target, target_doc = columns
    states = []
    if source is not None:
        states.append((source, document_state(source_doc)))
    if base is not None:
        states.append((base, base_state))
    if target is not None:
        states.append((target, document_state(target_doc)))
    return states
