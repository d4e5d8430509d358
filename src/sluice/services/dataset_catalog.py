"""Reading the dataset catalog the Catalog API's way: lists keyed by id with `start`,
`limit`, `orderBy` and `properties`, and Sluice's extensions (preview, stats, history)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from sluice.domain.catalog_query import parse_catalog_query, parse_properties
from sluice.domain.list_query import ListQuery
from sluice.domain.tenancy import Tenant
from sluice.lake.location import LakeLocation
from sluice.lake.reader import preview_rows, table_history, table_stats
from sluice.services.datasets import FIELDS, datasets, render_dataset, table_location
from sluice.store.list_query_sql import count_rows
from sluice.store.models import Dataset
from sluice.store.offset_pages import fetch_offset_page

# `name=a,b` style filters: the columns, not the free-form document.
SIMPLE_FILTERS = frozenset(FIELDS.columns)


def catalog_ref(row: Dataset) -> list[str]:
    """What a Catalog create, update or delete answers: `["@/dataSets/{id}"]`."""
    return [f"@/dataSets/{row.id}"]


def _projected(item: dict[str, Any], properties: Sequence[str] | None) -> dict[str, Any]:
    if properties is None:
        return item
    return {name: item[name] for name in properties if name in item}


def list_datasets(
    session: Session, tenant: Tenant, params: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    query = parse_catalog_query(params, SIMPLE_FILTERS)
    if query.count_only:
        return {"count": count_rows(session, FIELDS, tenant, ListQuery(filters=query.filters))}
    rows = fetch_offset_page(
        session, FIELDS, tenant, query.filters, query.order, query.start, query.limit
    )
    return {row.id: _projected(render_dataset(row, tenant), query.properties) for row in rows}


def get_dataset(
    session: Session, tenant: Tenant, dataset_id: str, properties: str | None
) -> tuple[Dataset, dict[str, Any]]:
    row = datasets.get(session, tenant, dataset_id)
    names = parse_properties(properties) if properties else None
    return row, {row.id: _projected(render_dataset(row, tenant), names)}


def dataset_preview(
    session: Session, tenant: Tenant, lake: LakeLocation, dataset_id: str, limit: int
) -> dict[str, Any]:
    """The dataset's columns and first rows as JSON (decimals as strings, times ISO-8601)."""
    row = datasets.get(session, tenant, dataset_id)
    location = table_location(lake, row)
    columns, rows = preview_rows(location, limit)
    stats = table_stats(location)
    return {
        "dataSetId": row.id,
        "columns": columns,
        "rows": rows,
        "version": stats.version if stats else None,
        "rowCount": stats.row_count if stats else 0,
    }


def dataset_stats(
    session: Session, tenant: Tenant, lake: LakeLocation, dataset_id: str
) -> dict[str, Any]:
    """Delta version, rows, live files and bytes; a dataset never written has version null."""
    row = datasets.get(session, tenant, dataset_id)
    stats = table_stats(table_location(lake, row))
    return {
        "dataSetId": row.id,
        "version": stats.version if stats else None,
        "rowCount": stats.row_count if stats else 0,
        "fileCount": stats.file_count if stats else 0,
        "sizeBytes": stats.size_bytes if stats else 0,
    }


def dataset_history(
    session: Session, tenant: Tenant, lake: LakeLocation, dataset_id: str, limit: int
) -> dict[str, Any]:
    row = datasets.get(session, tenant, dataset_id)
    return {
        "dataSetId": row.id,
        "items": table_history(table_location(lake, row), limit),
    }
