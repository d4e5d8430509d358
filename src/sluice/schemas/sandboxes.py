"""Request body of a sandbox create."""

from __future__ import annotations

from typing import Literal

from sluice.schemas.common import NonEmptyText, WireModel


class SandboxCreate(WireModel):
    name: NonEmptyText
    title: NonEmptyText | None = None
    type: Literal["development", "production"] = "development"
