"""Which fields of a request body a wire model ignores (unknown or read-only ones)."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel


def ignored_fields(model: type[BaseModel], payload: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the keys in `payload` that `model` has no field for, nested models
    included (`auth.status`, `schema.fields[0].format`); free-form objects (`params`) keep
    whatever they hold, so nothing below them is reported."""
    if not isinstance(payload, Mapping):
        return []
    known: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        known[name] = info.annotation
        if info.alias:
            known[info.alias] = info.annotation
    found: list[str] = []
    for key, value in payload.items():
        path = f"{prefix}{key}"
        if key not in known:
            found.append(path)
            continue
        nested, is_list = _nested_model(known[key])
        if nested is None:
            continue
        if is_list and isinstance(value, list):
            for index, item in enumerate(value):
                found += ignored_fields(nested, item, f"{path}[{index}].")
        elif not is_list:
            found += ignored_fields(nested, value, f"{path}.")
    return found


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The wire model an annotation holds (directly, optional, or as a list's items)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _nested_model(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _nested_model(arg)
            if found[0] is not None:
                return found
        return None, False
    if origin is list:
        args = get_args(annotation)
        inner, _ = _nested_model(args[0]) if args else (None, False)
        return inner, True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False
