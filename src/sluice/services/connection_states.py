"""`op=enable|disable` on connections, source and target connections (the reference's
`POST /{resource}/{id}/action?op=`), and the rule a disabled connection imposes on flows."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from sluice.domain.errors import bad_request
from sluice.domain.tenancy import Tenant
from sluice.services.connections import connections
from sluice.services.source_connections import source_connections
from sluice.services.target_connections import target_connections
from sluice.store.connection_state import flow_and_connection_states, state_of
from sluice.store.models import Connection, Flow, SourceConnection, TargetConnection
from sluice.store.resources import ResourceRepository

StateRow = TypeVar("StateRow", Connection, SourceConnection, TargetConnection)
STATES = {"enable": "enabled", "disable": "disabled"}


def _target_state(op: str) -> str:
    action = op.strip().lower()
    if action not in STATES:
        raise bad_request(1000, f"Unknown action '{op}'; use op=enable or op=disable.")
    return STATES[action]


def change_state(
    session: Session,
    tenant: Tenant,
    repository: ResourceRepository[StateRow],
    resource_id: str,
    op: str,
    if_match: str | None,
) -> StateRow:
    """Enable or disable; If-Match is optional (as on the reference's action endpoints),
    and an action that changes nothing keeps the etag."""
    target = _target_state(op)
    row = repository.get_for_write(session, tenant, resource_id, if_match, version_required=False)
    if state_of(row) == target:
        return row
    if isinstance(row, Connection):
        row.state = target
    else:
        row.doc = {**row.doc, "state": target}
    repository.touch(row, tenant)
    session.flush()
    return row


def change_connection_state(
    session: Session, tenant: Tenant, resource_id: str, op: str, if_match: str | None
) -> Connection:
    return change_state(session, tenant, connections, resource_id, op, if_match)


def change_source_state(
    session: Session, tenant: Tenant, resource_id: str, op: str, if_match: str | None
) -> SourceConnection:
    return change_state(session, tenant, source_connections, resource_id, op, if_match)


def change_target_state(
    session: Session, tenant: Tenant, resource_id: str, op: str, if_match: str | None
) -> TargetConnection:
    return change_state(session, tenant, target_connections, resource_id, op, if_match)


def disabled_connection_of(session: Session, tenant: Tenant, flow: Flow) -> str | None:
    """The first disabled connection a flow depends on (its source, that source's base
    connection, its target), or None when all are enabled."""
    found = flow_and_connection_states(session, tenant, flow.id)
    if found is not None:
        return first_disabled(found[1])
    # A flow not stored (yet): its connections one by one, by the ids in its document.
    source = source_connections.find(session, tenant, flow.doc["sourceConnectionIds"][0])
    base = (
        connections.find(session, tenant, source.base_connection_id)
        if source is not None and source.base_connection_id
        else None
    )
    target = target_connections.find(session, tenant, flow.doc["targetConnectionIds"][0])
    return first_disabled([(r.id, state_of(r)) for r in (source, base, target) if r is not None])


def first_disabled(states: list[tuple[str, str]]) -> str | None:
    """The first of (id, state) pairs that is not enabled: its id."""
    return next((row_id for row_id, state in states if state != "enabled"), None)


def require_enabled_connections(session: Session, tenant: Tenant, flow: Flow) -> None:
    refuse_disabled_connection(flow, disabled_connection_of(session, tenant, flow))


def refuse_disabled_connection(flow: Flow, disabled: str | None) -> None:
    if disabled is not None:
        raise bad_request(
            1444,
            f"Connection {disabled} of flow {flow.id} is disabled; enable it with "
            "POST .../action?op=enable first.",
        )
