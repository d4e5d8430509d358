"""JSON Schema validation whose messages never echo the submitted values (they may be secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft7Validator

from sluice.domain.errors import bad_request


def _describe(error: Any) -> str:
    location = "/".join(str(p) for p in error.absolute_path) or "(root)"
    validator = error.validator
    if validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        return f"{location}: missing required field(s) {', '.join(missing)}"
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"{location}: unknown field; allowed fields are {', '.join(allowed)}"
    if validator == "enum":
        return f"{location}: must be one of {', '.join(map(str, error.validator_value))}"
    if validator == "type":
        return f"{location}: must be of type {error.validator_value}"
    if validator in ("minLength", "maxLength", "pattern", "minimum", "maximum", "format"):
        return f"{location}: does not satisfy {validator} {error.validator_value}"
    return f"{location}: is not valid ({validator})"


def validate_against(
    schema: Mapping[str, Any], instance: object, what: str, *, code: int = 1000
) -> None:
    errors = sorted(Draft7Validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(_describe(e) for e in errors[:5])
        raise bad_request(code, f"Invalid {what}: {details}.")
