"""The runs list reads `RunView` tuples without the ORM (`ViewPageStatements`): the same pages,
next positions and rendered runs as the ORM rows, for every order it accepts, on both
databases."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.list_query import ListQuery, OrderBy, PropertyFilter
from sluice.domain.tenancy import Tenant
from sluice.services.runs import FIELDS, render_run
from sluice.store.keyset_pages import Page, fetch_page
from sluice.store.run_views import RunView
from sluice.store.view_page_statements import ViewPageStatements
from support.run_rows import runs_with_ties_and_nulls

Sessions = sessionmaker[Session]


def _pages(sessions: Sessions, tenant: Tenant, query: ListQuery, *, view: bool) -> list[Page]:
    pages = []
    statements = ViewPageStatements(FIELDS, RunView)
    while True:
        with sessions() as session:
            if view:
                page = statements.page(session, tenant, query)
            else:
                page = fetch_page(session, FIELDS, tenant, query)
        pages.append(page)
        if page.next_after is None:
            return pages
        query = replace(query, after=page.next_after)


@pytest.mark.parametrize("descending", [False, True])
def test_view_pages_match_the_orm_pages_for_every_sortable_field(
    sessions: Sessions, tenant: Tenant, descending: bool
) -> None:
    # Ties and NULLs in the nullable sort columns, so that paging crosses both.
    flow_id, run_ids = runs_with_ties_and_nulls(sessions, tenant)
    scope = (PropertyFilter("flowId", "==", (flow_id,)),)
    for field in FIELDS.columns:
        query = ListQuery(filters=scope, order=OrderBy(field, descending), limit=3)
        views = _pages(sessions, tenant, query, view=True)
        rows = _pages(sessions, tenant, query, view=False)
        assert [p.next_after for p in views] == [p.next_after for p in rows], field
        assert [[render_run(r, tenant) for r in p.rows] for p in views] == [
            [render_run(r, tenant) for r in p.rows] for p in rows
        ], field
        assert sorted(r.id for p in views for r in p.rows) == sorted(run_ids), field


class Narrow(NamedTuple):
    id: str
    created_at: int


def test_a_view_without_the_sort_column_is_refused(sessions: Sessions, tenant: Tenant) -> None:
    """Its pages could not say where the next one starts."""
    query = ListQuery(order=OrderBy("params.windowStartTime", descending=False))
    with sessions() as session, pytest.raises(ValueError, match="window_start"):
        ViewPageStatements(FIELDS, Narrow).page(session, tenant, query)
