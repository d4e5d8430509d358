"""`/data/foundation/catalog/dataSets`: the dataset catalog."""

from __future__ import annotations

from typing import Any

from fastapi import Query

from sluice.api.deps import ContextDep, SessionDep, TenantDep
from sluice.api.routers.common import CATALOG
from sluice.api.routers.crud import ResourceOperations, resource_router
from sluice.lake.reader import preview_rows, table_stats
from sluice.schemas.datasets import DatasetCreate
from sluice.schemas.ignored import ignored_fields
from sluice.schemas.parsing import parse_model
from sluice.services import datasets as service

router = resource_router(
    ResourceOperations(
        path=f"{CATALOG}/dataSets",
        repository=service.datasets,
        render=lambda row, tenant, _ctx: service.render_dataset(row, tenant),
        create=lambda session, tenant, _ctx, body: service.create_dataset(
            session, tenant, parse_model(DatasetCreate, body)
        ),
        patch=lambda session, tenant, _ctx, rid, ops, if_match: service.patch_dataset(
            session, tenant, rid, ops, if_match
        ),
        delete=lambda session, tenant, ctx, rid: service.delete_dataset(
            session, tenant, rid, ctx.settings.lake_dir
        ),
        ignored=lambda body: ignored_fields(DatasetCreate, body),
    ),
    "datasets",
)


@router.get("/{dataset_id}/preview")
def preview_dataset(
    dataset_id: str,
    context: ContextDep,
    session: SessionDep,
    tenant: TenantDep,
    limit: int = Query(20, ge=1, le=1000),
) -> dict[str, Any]:
    """The dataset's columns and first rows as JSON (decimals as strings, times ISO-8601)."""
    row = service.datasets.get(session, tenant, dataset_id)
    location = str(service.table_location(context.settings.lake_dir, row))
    columns, rows = preview_rows(location, limit)
    stats = table_stats(location)
    return {
        "dataSetId": row.id,
        "columns": columns,
        "rows": rows,
        "version": stats.version if stats else None,
        "rowCount": stats.row_count if stats else 0,
    }
