"""Pieces shared by several request bodies."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

NonEmptyText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)
]
Description = Annotated[str, StringConstraints(max_length=4096)]


class WireModel(BaseModel):
    """Unknown fields are refused: a typo must not be silently ignored (Sluice's own APIs)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ResourceBody(BaseModel):
    """A create body of the Flow Service or Catalog: unknown and read-only fields are ignored,
    as the reference does (clients add `status`, scripts re-post a GET with `id`, `etag`,
    `_links`...). `schemas.ignored.ignored_fields` names them for the response header."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class SpecRef(ResourceBody):
    id: NonEmptyText
    version: str | None = None


JsonObject = dict[str, Any]
