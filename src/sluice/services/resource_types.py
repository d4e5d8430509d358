"""What the routes know of stored resources: typed views of a row, a page and a repository,
so that no route names a store model or the store's repository class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from sluice.domain.list_query import ListQuery
from sluice.domain.tenancy import Tenant


class VersionedResource(Protocol):
    """A stored resource: its id and the etag of its current version."""

    @property
    def id(self) -> str: ...

    @property
    def etag(self) -> str: ...


class FlowResource(VersionedResource, Protocol):
    """A stored flow as a form reads it: its name, flow spec and document."""

    @property
    def name(self) -> str: ...

    @property
    def flow_spec_id(self) -> str: ...

    @property
    def doc(self) -> dict[str, Any]: ...


class NumberedResource(VersionedResource, Protocol):
    """A resource kept in numbered versions (a mapping set): also its current number."""

    @property
    def version(self) -> int: ...


Row_co = TypeVar("Row_co", bound=VersionedResource, covariant=True)


class ResourcePage(Protocol[Row_co]):
    """One page of a list; `next_after` is the (sort value, id) the next page starts after."""

    @property
    def rows(self) -> Sequence[Row_co]: ...

    @property
    def next_after(self) -> tuple[Any, str] | None: ...


class ListReader(Protocol[Row_co]):
    """The list reads of one resource inside a tenant: its pages and their count."""

    def count(self, session: Session, tenant: Tenant, query: ListQuery) -> int: ...

    def page(self, session: Session, tenant: Tenant, query: ListQuery) -> ResourcePage[Row_co]: ...


class ResourceReader(Protocol[Row_co]):
    """The reads of one resource inside a tenant (another tenant's rows are "not found")."""

    def get(self, session: Session, tenant: Tenant, resource_id: str) -> Row_co: ...

    def count(self, session: Session, tenant: Tenant, query: ListQuery) -> int: ...

    def page(self, session: Session, tenant: Tenant, query: ListQuery) -> ResourcePage[Row_co]: ...
