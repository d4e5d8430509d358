"""The headers that dependencies read by hand are still in the OpenAPI document, on every
route that reads them, as FastAPI listed them when they were `Header()` parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from sluice.api.headers import header_parameter, header_parameters, reads_headers
from support.callers import TOKEN_PATH, Caller

GATEWAY = ["authorization", "x-api-key", "x-gw-ims-org-id"]
CREATES = {
    "/data/foundation/flowservice/connections",
    "/data/foundation/flowservice/sourceConnections",
    "/data/foundation/flowservice/targetConnections",
    "/data/foundation/flowservice/flows",
    "/data/foundation/flowservice/runs",
    "/data/foundation/flowservice/backfills",
    "/data/foundation/flowservice/webhooks",
    "/data/foundation/catalog/dataSets",
    "/data/foundation/conversion/mappingSets",
}


def _operations(caller: Caller) -> list[tuple[str, str, dict[str, Any]]]:
    document = caller.http.app.openapi()  # type: ignore[attr-defined]
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def _headers(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]


def test_every_api_route_lists_the_gateway_headers_first(caller: Caller) -> None:
    for path, method, operation in _operations(caller):
        headers = _headers(operation)
        if path == TOKEN_PATH:
            assert headers == [], (method, path)
            continue
        assert headers[:3] == GATEWAY, (method, path)
        # Sandbox management acts for the org, not in a sandbox.
        in_sandbox = not path.startswith("/data/foundation/sandbox-management/")
        assert ("x-sandbox-name" in headers) == in_sandbox, (method, path)
        assert len(headers) == len(set(headers)), (method, path)
        for parameter in operation["parameters"]:
            if parameter["in"] == "header":
                assert parameter == header_parameter(parameter["name"])


def test_creates_list_the_idempotency_key_and_changes_the_if_match(caller: Caller) -> None:
    keyed, matched = set(), set()
    for path, method, operation in _operations(caller):
        headers = _headers(operation)
        if "Idempotency-Key" in headers:
            keyed.add(path)
            assert method == "post"
        if "if-match" in headers:
            matched.add((method, path))
    assert keyed == CREATES
    patches = {(m, p) for p, m, _ in _operations(caller) if m == "patch"}
    assert patches and patches <= matched


@reads_headers("b")
async def _inner(request: Request) -> None:
    return None


@reads_headers("a", "b")
async def _outer(request: Request, _: Annotated[None, Depends(_inner)]) -> None:
    return None


@reads_headers("c")
async def _last(request: Request) -> None:
    return None


async def _endpoint(
    _o: Annotated[None, Depends(_outer)],
    _i: Annotated[None, Depends(_inner)],
    _l: Annotated[None, Depends(_last)],
) -> dict[str, str]:
    return {}


def test_header_parameters_follow_fastapis_walk_of_the_graph() -> None:
    """A dependency's own headers before its sub-dependencies', each header once."""
    app = FastAPI()
    app.add_api_route("/x", _endpoint)
    route = next(r for r in app.routes if getattr(r, "path", "") == "/x")
    assert [p["name"] for p in header_parameters(route.dependant)] == ["a", "b", "c"]  # type: ignore[attr-defined]
    assert TestClient(app).get("/x").status_code == 200
