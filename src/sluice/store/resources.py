"""Tenant-scoped repository shared by every flow-service resource table."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.domain.errors import NotFoundError, PreconditionFailedError, VersionRequiredError
from sluice.domain.list_query import ListQuery
from sluice.domain.tenancy import Tenant
from sluice.store.clock import new_etag, new_id, now_ms
from sluice.store.keyset_pages import Page, View, fetch_page
from sluice.store.list_query_sql import ResourceFields, count_rows, tenant_scope
from sluice.store.models import ResourceColumns
from sluice.store.view_page_statements import ViewPageStatements

Row = TypeVar("Row", bound=ResourceColumns)


class ResourceRepository(Generic[Row]):
    """Create, read, page, version-check and delete rows of one resource, inside one tenant.

    Reads of another tenant's row answer "not found", exactly like a missing row, so ids
    cannot be probed across tenants.
    """

    def __init__(self, model: type[Row], resource_type: str, fields: ResourceFields) -> None:
        self.model = model
        self.resource_type = resource_type
        self.fields = fields

    def find(self, session: Session, tenant: Tenant, resource_id: str) -> Row | None:
        return find_row(session, self.model, tenant, resource_id)

    def get(
        self, session: Session, tenant: Tenant, resource_id: str, *, for_update: bool = False
    ) -> Row:
        if not is_storable_id(resource_id):
            raise NotFoundError(self.resource_type, resource_id)
        statement = select(self.model).where(
            self.model.id == resource_id, tenant_scope(self.model, tenant)
        )
        if for_update:
            statement = statement.with_for_update()
        row = session.scalar(statement)
        if row is None:
            raise NotFoundError(self.resource_type, resource_id)
        return row

    def get_for_write(
        self,
        session: Session,
        tenant: Tenant,
        resource_id: str,
        if_match: str | None,
        *,
        version_required: bool = True,
    ) -> Row:
        """The row a write changes: locked until the transaction ends, and refused when the
        client's `If-Match` names another version (see `check_version`)."""
        row = self.get(session, tenant, resource_id, for_update=True)
        self.check_version(row, if_match, required=version_required)
        return row

    def add(
        self, session: Session, tenant: Tenant, name: str, doc: dict[str, Any], **columns: Any
    ) -> Row:
        stamp = now_ms()
        factory: Any = self.model
        row: Row = factory(
            id=new_id(),
            org_id=tenant.org_id,
            sandbox_id=tenant.sandbox_id,
            name=name,
            created_at=stamp,
            updated_at=stamp,
            created_by=tenant.client_id,
            updated_by=tenant.client_id,
            created_client=tenant.client_id,
            updated_client=tenant.client_id,
            etag=new_etag(),
            doc=doc,
            **columns,
        )
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def touch(row: Row, tenant: Tenant) -> None:
        """Record a change: new etag, updated time and updater."""
        row.updated_at = max(now_ms(), row.updated_at + 1)
        row.updated_by = tenant.client_id
        row.updated_client = tenant.client_id
        # The new etag is generated at flush by the mapper's version counter.

    @staticmethod
    def check_version(row: Row, if_match: str | None, *, required: bool = True) -> None:
        """Refuse a write based on a stale read (two clients patching the same resource).

        `if_match` is a list of etags as an If-Match header writes it (`*`: any version)."""
        if if_match is None or if_match.strip() == "":
            if required:
                raise VersionRequiredError()
            return
        candidates = {tag.strip() for tag in if_match.split(",")}
        bare = row.etag.strip('"')
        if "*" in candidates or row.etag in candidates or bare in candidates:
            return
        raise PreconditionFailedError(
            f"The supplied version {if_match} does not match the current version on entity "
            f"{row.id}. Fetch the resource again and retry with its current etag."
        )

    def delete(self, session: Session, row: Row) -> None:
        session.delete(row)
        session.flush()

    def page(self, session: Session, tenant: Tenant, query: ListQuery) -> Page:
        return fetch_page(session, self.fields, tenant, query)

    def count(self, session: Session, tenant: Tenant, query: ListQuery) -> int:
        return count_rows(session, self.fields, tenant, query)


class ViewPages(Generic[View]):
    """The list reads of one resource whose rows are `view` tuples, not ORM instances (see
    `ViewPageStatements`): for a list whose pages are rendered and nothing else. Each query's
    statement is built once (`ViewPageStatements`)."""

    def __init__(self, fields: ResourceFields, view: type[View]) -> None:
        self.fields = fields
        self.view = view
        self.statements = ViewPageStatements(fields, view)

    def page(self, session: Session, tenant: Tenant, query: ListQuery) -> Page:
        return self.statements.page(session, tenant, query)

    def count(self, session: Session, tenant: Tenant, query: ListQuery) -> int:
        return count_rows(session, self.fields, tenant, query)


def find_row(session: Session, model: type[Row], tenant: Tenant, resource_id: str) -> Row | None:
    """The tenant's row of `model` with this id, or None (another tenant's row included)."""
    if not is_storable_id(resource_id):
        return None
    return session.scalar(select(model).where(model.id == resource_id, tenant_scope(model, tenant)))


def is_storable_id(resource_id: str) -> bool:
    """Ids we could ever have issued; anything else (NUL, 10 kB) is simply not found."""
    return 0 < len(resource_id) <= 64 and resource_id.isprintable()
