"""Request headers that dependencies read by hand, and what the OpenAPI document says of them.

The gateway headers (`Authorization`, `x-api-key`, `x-gw-ims-org-id`, `x-sandbox-name`)
and `Idempotency-Key` / `If-Match` are read straight from `request.headers` instead of
through FastAPI `Header()` parameters: each of those is validated by Pydantic on every
request, once per place the dependency appears in a route's graph (the gateway headers of
`POST /runs` were validated twelve times a request). A dependency that reads headers says
so with `@reads_headers(...)`, and `header_parameters` lists them for a route's OpenAPI
operation exactly as FastAPI listed the `Header()` parameters they replace: optional
strings, in the order FastAPI walks the dependency graph, each once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant

Function = TypeVar("Function", bound=Callable[..., Any])

_HEADERS_ATTRIBUTE = "__sluice_reads_headers__"


def reads_headers(*names: str) -> Callable[[Function], Function]:
    """Marks a dependency that reads these optional headers (wire names) itself."""

    def mark(dependency: Function) -> Function:
        setattr(dependency, _HEADERS_ATTRIBUTE, names)
        return dependency

    return mark


def header_parameter(name: str) -> dict[str, Any]:
    """The OpenAPI parameter FastAPI makes for `Annotated[str | None, Header()] = None`."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": _title(name)},
    }


def header_parameters(dependant: Dependant) -> list[dict[str, Any]]:
    """The headers read by `dependant`'s graph: depth first, a dependency's own before its
    sub-dependencies', each dependency once (as FastAPI walks it for the document)."""
    names: list[str] = []
    seen: set[Any] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call in seen:
            continue
        seen.add(current.call)
        for name in getattr(current.call, _HEADERS_ATTRIBUTE, ()):
            if name not in names:
                names.append(name)
        pending.extend(reversed(current.dependencies))
    return [header_parameter(name) for name in names]


def _title(name: str) -> str:
    # The title FastAPI gave the parameter: the header's name, each word capitalised.
    return "-".join(part.capitalize() for part in name.replace("_", "-").split("-"))
