"""Request bodies of the dataset catalog."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from sluice.schemas.common import Description, JsonObject, NonEmptyText, ResourceBody

ColumnName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


class DatasetField(ResourceBody):
    name: ColumnName
    type: NonEmptyText
    nullable: bool = True


class DatasetSchema(ResourceBody):
    fields: list[DatasetField] = Field(min_length=1)


class DatasetCreate(ResourceBody):
    name: NonEmptyText
    description: Description | None = None
    schema_: DatasetSchema | None = Field(default=None, alias="schema")
    schema_ref: JsonObject | None = Field(default=None, alias="schemaRef")
    tags: dict[str, list[str]] | None = None
