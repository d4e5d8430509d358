"""Request bodies of webhook subscriptions."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from sluice.schemas.common import Description, NonEmptyText, WireModel

WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]
WebhookSecret = Annotated[str, StringConstraints(min_length=16, max_length=512)]


class WebhookFields(WireModel):
    """Everything readable about a subscription (its secret is write-only)."""

    name: NonEmptyText
    description: Description | None = None
    url: WebhookUrl
    events: list[NonEmptyText] = Field(min_length=1, max_length=16)
    flow_id: NonEmptyText | None = Field(default=None, alias="flowId")
    enabled: bool = True


class WebhookCreate(WebhookFields):
    secret: WebhookSecret


class SecretValue(WireModel):
    secret: WebhookSecret
