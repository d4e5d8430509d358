"""HTML form fields generated from a connection spec's JSON Schema, and the posted form read
back into the `auth.params` object the API takes (the service validates it, not this)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from sluice.domain.secrets import MASK

FIELD_PREFIX = "param."


@dataclass(frozen=True)
class FormField:
    """One input: `kind` is text, password, number, select, checkbox or lines (a list)."""

    name: str
    kind: str
    required: bool
    description: str
    default: Any = None
    choices: tuple[str, ...] = ()

    @property
    def input_name(self) -> str:
        return FIELD_PREFIX + self.name


def _kind(spec: Mapping[str, Any]) -> str:
    if spec.get("format") == "password":
        return "password"
    if "enum" in spec:
        return "select"
    kind = spec.get("type")
    if kind == "integer" or kind == "number":
        return "number"
    if kind == "boolean":
        return "checkbox"
    if kind == "array":
        return "lines"
    return "text"


def form_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """The schema's properties in their declared order, required ones first."""
    required = set(schema.get("required") or ())
    fields = [
        FormField(
            name=name,
            kind=_kind(spec),
            required=name in required,
            description=str(spec.get("description") or ""),
            default=spec.get("default"),
            choices=tuple(str(v) for v in spec.get("enum") or ()),
        )
        for name, spec in (schema.get("properties") or {}).items()
        if isinstance(spec, Mapping)
    ]
    return sorted(fields, key=lambda f: not f.required)


def _typed(field: FormField, text: str) -> Any:
    """Numbers as numbers when they read as one; anything else as typed, so the schema
    validation names the field and its problem."""
    if field.kind == "number":
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    if field.kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    return text


def params_from_form(
    form: FormData, fields: list[FormField], *, stored_secrets: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The params an API client would send. Empty inputs are left out (the schema says what
    is required). On an edit, an empty input of a stored secret becomes the mask: the service
    then keeps the stored value, as it does for a PATCH that leaves the secret masked."""
    params: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.input_name)
        text = raw.strip() if isinstance(raw, str) and field.kind != "password" else raw
        if field.kind == "checkbox":
            params[field.name] = raw is not None
            continue
        if not isinstance(text, str) or text == "":
            if field.kind == "password" and field.name in stored_secrets:
                params[field.name] = MASK
            continue
        params[field.name] = _typed(field, text)
    return params


def shown_values(params: Mapping[str, Any], fields: list[FormField]) -> dict[str, str]:
    """What the inputs show again, by input name: never a secret (a secret input is always
    empty)."""
    shown: dict[str, str] = {}
    for field in fields:
        value = params.get(field.name)
        if field.kind == "password" or value is None:
            continue
        if isinstance(value, list):
            shown[field.input_name] = "\n".join(str(v) for v in value)
        elif isinstance(value, bool):
            shown[field.input_name] = "on" if value else ""
        else:
            shown[field.input_name] = str(value)
    return shown
