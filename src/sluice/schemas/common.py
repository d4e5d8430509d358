"""Pieces shared by several request bodies."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

NonEmptyText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)
]
Description = Annotated[str, StringConstraints(max_length=4096)]


class WireModel(BaseModel):
    """Unknown fields are refused: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SpecRef(WireModel):
    id: NonEmptyText
    version: str | None = None


JsonObject = dict[str, Any]
