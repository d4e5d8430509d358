"""JSON Patch (RFC 6902) on a resource's wire document, with the reference's rules.

Ops are `add`, `replace`, `remove` in either case (the docs write them lowercase, the spec
uppercase); anything else is 1434. Each resource names the top-level fields a patch may touch;
a path outside them is 1455, or the resource's own code (1414 for a connection's spec).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch
import jsonpointer

from sluice.domain.errors import bad_request

ALLOWED_OPS = ("add", "replace", "remove")


def _top_field(path: str) -> str:
    if not path.startswith("/"):
        raise bad_request(1455, f"Invalid patch path '{path}': a JSON pointer starting with '/'.")
    return path[1:].split("/", 1)[0].replace("~1", "/").replace("~0", "~")


def normalize_operations(
    operations: object,
    patchable: frozenset[str],
    forbidden_codes: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Validate the patch document and return it with lowercase ops."""
    if not isinstance(operations, list) or not operations:
        raise bad_request(1455, "A patch body must be a non-empty JSON array of operations.")
    normalized = []
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise bad_request(1455, f"Patch operation {index} must be an object.")
        op = str(operation.get("op", "")).lower()
        if op not in ALLOWED_OPS:
            raise bad_request(
                1434,
                f"Patch operation '{operation.get('op')}' is not supported; use add, "
                "replace or remove.",
            )
        path = operation.get("path")
        if not isinstance(path, str):
            raise bad_request(1455, f"Patch operation {index} needs a string 'path'.")
        field = _top_field(path)
        if field not in patchable:
            code = (forbidden_codes or {}).get(field, 1455)
            raise bad_request(
                code,
                f"The field '{field}' cannot be updated; updatable fields: "
                f"{', '.join(sorted(patchable))}.",
            )
        if op != "remove" and "value" not in operation:
            raise bad_request(1455, f"Patch operation {index} ('{op}') needs a 'value'.")
        normalized.append({**operation, "op": op})
    return normalized


def apply_operations(
    document: Mapping[str, Any], operations: list[dict[str, Any]]
) -> dict[str, Any]:
    try:
        patched: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(dict(document)), operations)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise bad_request(1455, f"The patch cannot be applied: {exc}.") from None
    return patched
