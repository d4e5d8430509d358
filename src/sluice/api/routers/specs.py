"""`/connectionSpecs` and `/flowSpecs`: the built-in, read-only specs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from sluice.api.deps import ContextDep, TenantDep
from sluice.api.list_pages import list_query_from, projected, requested_properties
from sluice.api.routers.common import FLOW_SERVICE
from sluice.api.routers.prefixed import PrefixedRouter
from sluice.connectors.registry import all_specs
from sluice.domain.errors import NotFoundError
from sluice.domain.flow_specs import FlowSpec, all_flow_specs
from sluice.domain.matching import matches

router = PrefixedRouter(prefix=FLOW_SERVICE, tags=["specs"])


def flow_spec_view(spec: FlowSpec) -> dict[str, Any]:
    sources = [s.id for s in all_specs() if s.source_kind == spec.source_kind]
    targets = [s.id for s in all_specs() if s.source_kind == "target"]
    return spec.to_wire(sources, targets)


def _filtered(
    request: Request, context: ContextDep, items: Iterable[dict[str, Any]]
) -> dict[str, Any]:
    query = list_query_from(request, context.settings)
    properties = requested_properties(request)
    selected = [i for i in items if all(matches(i, f) for f in query.filters)]
    if query.count_only:
        return {"count": len(selected)}
    return {"items": [projected(i, properties) for i in selected[: query.limit]], "_links": {}}


def _one(items: Iterable[dict[str, Any]], kind: str, spec_id: str) -> dict[str, Any]:
    found = [i for i in items if i["id"] == spec_id]
    if not found:
        raise NotFoundError(kind, spec_id)
    return {"items": found}


@router.get("/connectionSpecs")
def list_connection_specs(
    request: Request, context: ContextDep, _tenant: TenantDep
) -> dict[str, Any]:
    return _filtered(request, context, (s.to_wire() for s in all_specs()))


@router.get("/connectionSpecs/{spec_id}")
def get_connection_spec(spec_id: str, _tenant: TenantDep) -> dict[str, Any]:
    return _one((s.to_wire() for s in all_specs()), "connectionSpecs", spec_id)


@router.get("/flowSpecs")
def list_flow_specs(request: Request, context: ContextDep, _tenant: TenantDep) -> dict[str, Any]:
    return _filtered(request, context, (flow_spec_view(s) for s in all_flow_specs()))


@router.get("/flowSpecs/{spec_id}")
def get_flow_spec(spec_id: str, _tenant: TenantDep) -> dict[str, Any]:
    return _one((flow_spec_view(s) for s in all_flow_specs()), "flowSpecs", spec_id)
