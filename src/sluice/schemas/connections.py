"""Request bodies of base, source and target connections."""

from __future__ import annotations

from pydantic import Field

from sluice.schemas.common import Description, JsonObject, NonEmptyText, ResourceBody, SpecRef


class AuthBody(ResourceBody):
    spec_name: NonEmptyText = Field(alias="specName")
    params: JsonObject = Field(default_factory=dict)


class ConnectionCreate(ResourceBody):
    name: NonEmptyText
    description: Description | None = None
    auth: AuthBody | None = None
    connection_spec: SpecRef = Field(alias="connectionSpec")


# Source and target connections take the same body; each keeps its own name on the wire
# (and no docstring, which would become its schema's description).
class _FlowConnectionCreate(ResourceBody):
    name: NonEmptyText
    description: Description | None = None
    base_connection_id: NonEmptyText | None = Field(default=None, alias="baseConnectionId")
    data: JsonObject = Field(default_factory=dict)
    params: JsonObject = Field(default_factory=dict)
    connection_spec: SpecRef = Field(alias="connectionSpec")


class SourceConnectionCreate(_FlowConnectionCreate):
    pass


class TargetConnectionCreate(_FlowConnectionCreate):
    pass
