"""Request bodies of flows."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sluice.schemas.common import Description, JsonObject, NonEmptyText, ResourceBody, SpecRef


class FlowCreate(ResourceBody):
    name: NonEmptyText
    description: Description | None = None
    flow_spec: SpecRef = Field(alias="flowSpec")
    source_connection_ids: list[NonEmptyText] = Field(alias="sourceConnectionIds")
    target_connection_ids: list[NonEmptyText] = Field(alias="targetConnectionIds")
    transformations: list[JsonObject] = Field(default_factory=list)
    schedule_params: Any = Field(default=None, alias="scheduleParams")
    options: JsonObject = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)
