"""Creating a flow from the bodies a client would send one after another: a source
connection, a dataset (unless an existing one is used), a target connection and the flow.

Each body goes through the same service function as its API route. Later bodies name earlier
resources by placeholder (`{sourceConnection.id}`), replaced by the id just created. Everything
happens in the caller's transaction: a refused body leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import Tenant
from sluice.schemas.connections import SourceConnectionCreate, TargetConnectionCreate
from sluice.schemas.datasets import DatasetCreate
from sluice.schemas.parsing import parse_model
from sluice.services.datasets import create_dataset
from sluice.services.flows import create_flow
from sluice.services.source_connections import SourceChecker, create_source_connection
from sluice.services.target_connections import create_target_connection

SOURCE_ID = "{sourceConnection.id}"
DATASET_ID = "{dataSet.id}"
TARGET_ID = "{targetConnection.id}"


@dataclass(frozen=True)
class FlowBodies:
    """The request bodies, in the order they are sent; `dataset` is None to use an existing
    dataset (the target body then names it)."""

    source_connection: dict[str, Any]
    dataset: dict[str, Any] | None
    target_connection: dict[str, Any]
    flow: dict[str, Any]


@dataclass(frozen=True)
class CreatedFlow:
    flow_id: str
    source_connection_id: str
    dataset_id: str
    target_connection_id: str


def _filled(value: Any, ids: Mapping[str, str]) -> Any:
    """`value` with every placeholder string replaced by its id."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_filled(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _filled(item, ids) for key, item in value.items()}
    return value


def create_flow_from_bodies(
    session: Session, tenant: Tenant, bodies: FlowBodies, checker: SourceChecker
) -> CreatedFlow:
    ids: dict[str, str] = {}
    source = create_source_connection(
        session, tenant, parse_model(SourceConnectionCreate, bodies.source_connection), checker
    )
    ids[SOURCE_ID] = source.id
    if bodies.dataset is not None:
        ids[DATASET_ID] = create_dataset(
            session, tenant, parse_model(DatasetCreate, bodies.dataset)
        ).id
    target = create_target_connection(
        session,
        tenant,
        parse_model(TargetConnectionCreate, _filled(bodies.target_connection, ids)),
    )
    ids[TARGET_ID] = target.id
    flow = create_flow(session, tenant, _filled(bodies.flow, ids))
    return CreatedFlow(
        flow_id=flow.id,
        source_connection_id=source.id,
        dataset_id=str(target.dataset_id),
        target_connection_id=target.id,
    )


def check_flow_bodies(
    sessions: sessionmaker[Session], tenant: Tenant, bodies: FlowBodies, checker: SourceChecker
) -> None:
    """A dry run for a review step: every body through its service, then all rolled back.
    Raises the coded error the real creation would raise."""
    with sessions() as session:
        session.begin()
        try:
            create_flow_from_bodies(session, tenant, bodies, checker)
        finally:
            session.rollback()
