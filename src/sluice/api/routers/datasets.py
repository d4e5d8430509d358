"""`/data/foundation/catalog/dataSets`: the dataset catalog."""

from __future__ import annotations

from sluice.api.routers.common import CATALOG
from sluice.api.routers.crud import ResourceOperations, resource_router
from sluice.schemas.datasets import DatasetCreate
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
    ),
    "datasets",
)
