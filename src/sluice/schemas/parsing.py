"""Validating a decoded JSON body against a wire model, with coded errors."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sluice.domain.errors import BadRequestError, bad_request

ModelT = TypeVar("ModelT", bound=BaseModel)


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:5]:
        location = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def parse_model(model: type[ModelT], payload: Any, *, code: int = 1000) -> ModelT:
    if not isinstance(payload, dict):
        raise bad_request(code, "The request body must be a JSON object.")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise BadRequestError(
            f"Invalid request body: {describe_validation_error(exc)}.", code=code
        ) from None
