"""Datasets: the list, and one dataset's schema, size, preview and history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sluice.api.deps import ContextDep, SessionDep
from sluice.services.dashboard_catalog import dataset_preview, dataset_summaries
from sluice.services.dashboard_datasets import dataset_commits, flows_writing
from sluice.services.datasets import datasets
from sluice.ui.deps import PageNotFoundError, ViewerDep
from sluice.ui.templating import render_page

router = APIRouter()


@router.get("/ui/datasets")
def datasets_page(
    request: Request, context: ContextDep, viewer: ViewerDep, session: SessionDep
) -> Response:
    return render_page(
        request,
        "datasets.html",
        viewer,
        datasets=dataset_summaries(session, viewer.tenant, context.settings.lake),
    )


@router.get("/ui/datasets/{dataset_id}")
def dataset_page(
    request: Request,
    dataset_id: str,
    context: ContextDep,
    viewer: ViewerDep,
    session: SessionDep,
) -> Response:
    row = datasets.find(session, viewer.tenant, dataset_id)
    if row is None:
        raise PageNotFoundError(dataset_id)
    return render_page(
        request,
        "dataset.html",
        viewer,
        preview=dataset_preview(row, context.settings.lake),
        commits=dataset_commits(session, viewer.tenant, context.settings.lake, row),
        writers=flows_writing(session, viewer.tenant, row.id),
    )
