"""`/data/foundation/catalog/dataSets`: the dataset catalog, in the Catalog API's shapes.

GET of one or a list answers an object keyed by id; create answers 201
`["@/dataSets/{id}"]`, update (fields or JSON Patch) and delete answer 200 with the same
array. Sluice's extensions live under the dataset: `/preview`, `/stats`, `/history`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request, Response

from sluice.api.body import JsonBody
from sluice.api.deps import ContextDep, IfMatchDep, SessionDep, TenantDep
from sluice.api.idempotency import IdempotencyDep
from sluice.api.ignored import report_ignored
from sluice.api.json_response import JSONResponse
from sluice.api.routers.common import CATALOG, RowsLimit
from sluice.api.routers.prefixed import PrefixedRouter
from sluice.schemas.datasets import DatasetCreate
from sluice.schemas.ignored import ignored_fields
from sluice.schemas.parsing import parse_model
from sluice.services import dataset_catalog as catalog
from sluice.services import datasets as service

DATASETS = f"{CATALOG}/dataSets"
router = PrefixedRouter(prefix=DATASETS, tags=["datasets"])


def _multi_params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params


@router.get("")
def list_datasets(request: Request, session: SessionDep, tenant: TenantDep) -> JSONResponse:
    return JSONResponse(catalog.list_datasets(session, tenant, _multi_params(request)))


@router.post("")
def create_dataset(
    request: Request,
    body: JsonBody,
    session: SessionDep,
    tenant: TenantDep,
    idempotency: IdempotencyDep,
) -> Response:
    def create() -> Response:
        row = service.create_dataset(session, tenant, parse_model(DatasetCreate, body))
        response = JSONResponse(
            catalog.catalog_ref(row),
            status_code=201,
            headers={"Location": f"{DATASETS}/{row.id}", "ETag": row.etag},
        )
        return report_ignored(request, response, ignored_fields(DatasetCreate, body))

    return idempotency.respond(session, tenant, body, create)


@router.get("/{dataset_id}")
def get_dataset(
    dataset_id: str,
    session: SessionDep,
    tenant: TenantDep,
    properties: str | None = Query(None),
) -> JSONResponse:
    row, body = catalog.get_dataset(session, tenant, dataset_id, properties)
    return JSONResponse(body, headers={"ETag": row.etag})


@router.patch("/{dataset_id}")
def update_dataset(
    request: Request,
    dataset_id: str,
    body: JsonBody,
    if_match: IfMatchDep,
    session: SessionDep,
    tenant: TenantDep,
) -> JSONResponse:
    """A JSON Patch array, or an object of the fields to change (the Catalog's two forms)."""
    ignored: list[str] = []
    operations = body
    if isinstance(body, dict):
        operations, ignored = service.field_operations(body)
    row = service.patch_dataset(session, tenant, dataset_id, operations, if_match)
    response = JSONResponse(catalog.catalog_ref(row), headers={"ETag": row.etag})
    return report_ignored(request, response, ignored)


@router.delete("/{dataset_id}")
def delete_dataset(
    dataset_id: str, context: ContextDep, session: SessionDep, tenant: TenantDep
) -> JSONResponse:
    row = service.datasets.get(session, tenant, dataset_id)
    reference = catalog.catalog_ref(row)
    service.delete_dataset(session, tenant, dataset_id, context.settings.lake)
    return JSONResponse(reference)


@router.get("/{dataset_id}/preview")
def preview_dataset(
    dataset_id: str,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    limit: RowsLimit = 20,
) -> dict[str, Any]:
    """The dataset's columns and first rows as JSON (decimals as strings, times ISO-8601)."""
    return catalog.dataset_preview(session, tenant, context.settings.lake, dataset_id, limit)


@router.get("/{dataset_id}/stats")
def dataset_stats(
    dataset_id: str, context: ContextDep, session: SessionDep, tenant: TenantDep
) -> dict[str, Any]:
    """Delta version, row count, live files and their bytes."""
    return catalog.dataset_stats(session, tenant, context.settings.lake, dataset_id)


@router.get("/{dataset_id}/history")
def dataset_history(
    dataset_id: str,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    limit: RowsLimit = 20,
) -> dict[str, Any]:
    """The Delta commits of the dataset's table, newest first."""
    return catalog.dataset_history(session, tenant, context.settings.lake, dataset_id, limit)
