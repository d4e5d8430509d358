"""What the dashboard shows of one connection: its spec, masked auth and who uses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.connectors.contract import ConnectionSpec
from sluice.connectors.registry import all_specs, find_spec
from sluice.domain.tenancy import Tenant
from sluice.services.connections import render_connection
from sluice.store.list_query_sql import tenant_scope
from sluice.store.models import Connection, Flow, FlowSourceConnection, SourceConnection


@dataclass(frozen=True)
class NamedLink:
    id: str
    name: str


@dataclass(frozen=True)
class ConnectionDetail:
    id: str
    name: str
    description: str
    etag: str
    state: str
    spec: ConnectionSpec | None
    auth_spec: str | None
    # Secret params read as the mask: render_connection never decrypts them.
    auth_params: dict[str, Any]
    sealed: frozenset[str]
    source_connections: list[NamedLink]
    flows: list[NamedLink]

    @property
    def explorable(self) -> bool:
        return self.spec is not None and self.spec.source_kind in ("table", "file")


def source_specs() -> list[ConnectionSpec]:
    """The specs a user can make a base connection of (sources; the lake target needs none)."""
    return sorted(
        (s for s in all_specs() if s.source_kind in ("table", "file") and s.auth_specs),
        key=lambda s: s.name.lower(),
    )


def connection_detail(session: Session, tenant: Tenant, row: Connection) -> ConnectionDetail:
    rendered = render_connection(row, tenant)
    auth = rendered.get("auth") or {}
    sources = list(
        session.execute(
            select(SourceConnection.id, SourceConnection.name)
            .where(
                tenant_scope(SourceConnection, tenant),
                SourceConnection.base_connection_id == row.id,
            )
            .order_by(SourceConnection.name)
        )
    )
    flows = list(
        session.execute(
            select(Flow.id, Flow.name)
            .join(FlowSourceConnection, FlowSourceConnection.flow_id == Flow.id)
            .where(
                tenant_scope(Flow, tenant),
                FlowSourceConnection.source_connection_id.in_([s.id for s in sources]),
            )
            .order_by(Flow.name)
        )
    )
    return ConnectionDetail(
        id=row.id,
        name=row.name,
        description=str(rendered.get("description") or ""),
        etag=row.etag,
        state=row.state,
        spec=find_spec(row.connection_spec_id),
        auth_spec=auth.get("specName"),
        auth_params=dict(auth.get("params") or {}),
        sealed=frozenset((row.doc.get("auth") or {}).get("sealedParams") or ()),
        source_connections=[NamedLink(s.id, s.name) for s in sources],
        flows=[NamedLink(f.id, f.name) for f in flows],
    )


@dataclass(frozen=True)
class FlowSource:
    """What a flow reads, by name: its base connection and the table or path."""

    connection: NamedLink | None
    place: str


def flow_source(session: Session, tenant: Tenant, flow: Flow) -> FlowSource | None:
    source_ids = flow.doc.get("sourceConnectionIds") or []
    source = session.scalar(
        select(SourceConnection).where(
            tenant_scope(SourceConnection, tenant),
            SourceConnection.id.in_([str(i) for i in source_ids]),
        )
    )
    if source is None:
        return None
    params = source.doc.get("params") or {}
    place = str(params.get("tableName") or params.get("path") or params.get("endpoint") or "")
    base = (
        session.get(Connection, source.base_connection_id)
        if source.base_connection_id
        else None
    )
    return FlowSource(NamedLink(base.id, base.name) if base is not None else None, place)
