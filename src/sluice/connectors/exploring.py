"""What exploring a connection is: listing what it reaches, and previewing one object.

`GET /connections/{id}/explore` (reference section 1.1) lists the objects under a place
(`objectType=root` for the top; `folder` / `schema` for what is inside one) and, with
`preview=true`, returns sample rows and column types of one table or file.

Each source connector lists through `Connector.explore`. Previews need nothing more: they
open the connector's reader (`Connector.read`) with `ReadRequest(window=None,
limit=n)` on a source built from the explored object, so a preview reads exactly as a run
would, types included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ObjectType = Literal["root", "schema", "table", "folder", "file", "rest"]
ItemType = Literal["schema", "table", "folder", "file", "endpoint"]

# Listing stops after this many objects (a bucket may hold millions of files).
MAX_LISTED_OBJECTS = 1000


@dataclass(frozen=True)
class ExploreItem:
    """One object under the explored place, in the reference's explore shape."""

    type: ItemType
    name: str
    # What to pass back as `object` to explore or preview this item: a table name
    # (`schema.table`), a path relative to the connection's root, or an endpoint path.
    path: str
    can_preview: bool
    can_fetch_schema: bool
    size: int | None = None
    modified_at: float | None = None  # epoch seconds

    @classmethod
    def for_schema(cls, name: str) -> ExploreItem:
        """A schema (a MySQL database) of a database connection: explored, never previewed."""
        return cls("schema", name, name, can_preview=False, can_fetch_schema=False)

    @classmethod
    def for_table(cls, name: str, schema: str | None = None) -> ExploreItem:
        """A table or view to preview; its path is `schema.table` when it lies in a schema."""
        path = name if schema is None else f"{schema}.{name}"
        return cls("table", name, path, can_preview=True, can_fetch_schema=True)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "path": self.path,
            "canPreview": self.can_preview,
            "canFetchSchema": self.can_fetch_schema,
        }
        if self.size is not None:
            wire["size"] = self.size
        if self.modified_at is not None:
            wire["lastModifiedTime"] = int(self.modified_at * 1000)
        return wire
