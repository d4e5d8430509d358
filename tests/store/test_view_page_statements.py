"""The runs list builds each query's statement once (`ViewPageStatements`) and runs it again
with the tenant and the page's position bound: the same pages as a statement built for
every request, for every order, filter and position, on both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.errors import SluiceError
from sluice.domain.list_query import ListQuery, OrderBy, PropertyFilter
from sluice.domain.tenancy import Tenant
from sluice.services.runs import FIELDS
from sluice.store import tenants
from sluice.store.db import transaction
from sluice.store.keyset_pages import Page, fetch_page
from sluice.store.run_views import RunView
from sluice.store.view_page_statements import BoundedStatements, ViewPageStatements
from support.run_rows import runs_with_ties_and_nulls

Sessions = sessionmaker[Session]


def _pages(sessions: Sessions, tenant: Tenant, query: ListQuery, reader: object) -> list[Page]:
    pages = []
    while True:
        with sessions() as session:
            if isinstance(reader, ViewPageStatements):
                page = reader.page(session, tenant, query)
            else:
                page = fetch_page(session, FIELDS, tenant, query)
        pages.append(page)
        if page.next_after is None:
            return pages
        # A page that does not move on (a statement kept for the wrong position) fails
        # here instead of paging forever.
        assert len(pages) <= 20, "paging does not end"
        query = replace(query, after=page.next_after)


def _ids(pages: list[Page]) -> list[list[str]]:
    return [[row.id for row in page.rows] for page in pages]


def _other_tenant(sessions: Sessions) -> Tenant:
    with transaction(sessions) as session:
        org = tenants.create_org(session, "Other Org")
        sandbox = tenants.find_sandbox(session, org.id, "prod")
        assert sandbox is not None
        return Tenant(org.id, sandbox.id, "prod", "other")


FILTERS = [
    (),
    (PropertyFilter("state", "==", ("SUCCESS",)),),
    (PropertyFilter("state", "!=", ("success", "cancelled")),),
    (PropertyFilter("metrics.durationSummary.startedAtUTC", ">=", ("1700000002",)),),
    (PropertyFilter("params.windowStartTime", "<", ("11.5",)),),
    (PropertyFilter("params.windowStartTime", "<", ("99999999999999999999",)),),
    (PropertyFilter("sandboxName", "==", ("prod",)),),
    (PropertyFilter("sandboxName", "==", ("dev",)),),
]


@pytest.mark.parametrize("descending", [False, True])
def test_cached_statements_page_like_the_orm_for_every_sort_field_and_filter(
    sessions: Sessions, tenant: Tenant, descending: bool
) -> None:
    flow_id, run_ids = runs_with_ties_and_nulls(sessions, tenant)
    # Another tenant's runs of the same shape: its pages come from the same statements.
    other = _other_tenant(sessions)
    other_flow, other_ids = runs_with_ties_and_nulls(sessions, other)
    statements = ViewPageStatements(FIELDS, RunView)
    for field in FIELDS.columns:
        for filters in FILTERS:
            for who, flow, ids in ((tenant, flow_id, run_ids), (other, other_flow, other_ids)):
                scope = (PropertyFilter("flowId", "==", (flow,)), *filters)
                query = ListQuery(filters=scope, order=OrderBy(field, descending), limit=3)
                expected = _pages(sessions, who, query, None)
                # Twice: the second time every page's statement comes from the cache.
                for _ in range(2):
                    pages = _pages(sessions, who, query, statements)
                    assert _ids(pages) == _ids(expected), (field, filters)
                    assert [p.next_after for p in pages] == [p.next_after for p in expected]
                    assert [tuple(r) for p in pages for r in p.rows] == [
                        tuple(getattr(r, name) for name in RunView._fields)
                        for p in expected
                        for r in p.rows
                    ]
                if not filters:
                    assert sorted(i for page in _ids(expected) for i in page) == sorted(ids)
    assert 0 < len(statements.statements) <= statements.statements.capacity


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (ListQuery(order=OrderBy("nope", False)), 1433),
        (ListQuery(filters=(PropertyFilter("nope", "==", ("x",)),)), 1449),
        (ListQuery(filters=(PropertyFilter("createdAt", "==", ("x",)),)), 1452),
        (ListQuery(after=("not a number", "id")), 1452),
        (ListQuery(order=OrderBy("state", False), after=(5, "id")), 1452),
        (ListQuery(after=(1, 2)), 1452),  # type: ignore[arg-type]
    ],
)
def test_refusals_are_the_same_on_every_attempt(
    sessions: Sessions, tenant: Tenant, query: ListQuery, code: int
) -> None:
    statements = ViewPageStatements(FIELDS, RunView)
    for _ in range(2):
        with sessions() as session, pytest.raises(SluiceError) as refused:
            statements.page(session, tenant, query)
        assert refused.value.code == code


def test_a_bad_filter_is_refused_before_a_bad_token(sessions: Sessions, tenant: Tenant) -> None:
    """As when the statement is built for every request."""
    query = ListQuery(filters=(PropertyFilter("nope", "==", ("x",)),), after=("x", "id"))
    with sessions() as session, pytest.raises(SluiceError) as refused:
        ViewPageStatements(FIELDS, RunView).page(session, tenant, query)
    assert refused.value.code == 1449


def test_the_cache_keeps_only_the_most_recently_used_statements() -> None:
    from sqlalchemy import literal, select

    cache = BoundedStatements(capacity=2)
    built: list[str] = []

    def build(name: str) -> object:
        built.append(name)
        return select(literal(name))

    for name in ("a", "b", "a", "c", "a", "b"):
        cache.get(name, lambda name=name: build(name))  # type: ignore[misc]
    # "b" was dropped when "c" came in ("a" had been used since), then built again.
    assert built == ["a", "b", "c", "b"]
    assert len(cache) == 2
