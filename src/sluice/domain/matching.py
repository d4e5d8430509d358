"""Evaluates `property` filters on in-memory wire objects (the built-in, read-only specs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice.domain.list_query import PropertyFilter
from sluice.domain.numbers import number_value


def _values_at(item: Any, segments: list[str]) -> list[Any]:
    if not segments:
        return [item]
    head, rest = segments[0], segments[1:]
    is_array = head.endswith("[]")
    key = head.removesuffix("[]")
    if not isinstance(item, Mapping) or key not in item:
        return []
    value = item[key]
    if is_array:
        if not isinstance(value, list):
            return []
        return [found for element in value for found in _values_at(element, rest)]
    return _values_at(value, rest)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(actual: Any, operator: str, expected: str) -> bool:
    left: Any = number_value(actual)
    right: Any = number_value(expected)
    if left is None or right is None:
        left, right = _text(actual), expected
    return bool(
        {
            ">": lambda: left > right,
            "<": lambda: left < right,
            ">=": lambda: left >= right,
            "<=": lambda: left <= right,
        }[operator]()
    )


def matches(item: Mapping[str, Any], flt: PropertyFilter) -> bool:
    found = _values_at(item, flt.path.split("."))
    if flt.operator == "==":
        return any(_text(v) in flt.values for v in found)
    if flt.operator == "!=":
        return not any(_text(v) in flt.values for v in found)
    return any(_compare(v, flt.operator, flt.values[0]) for v in found)
