"""The OpenAPI document, completed: list parameters, request bodies, answer and error
schemas that FastAPI cannot infer (routes read bodies and query strings by hand and answer
plain JSON), so that client generators and fuzzers see what the server really does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi
from starlette.routing import BaseRoute

from sluice.api.headers import header_parameters
from sluice.api.openapi_schemas import ANSWERS, Schema, body_schemas, ref
from sluice.config import Settings
from sluice.domain.catalog_query import MAX_LIMIT as CATALOG_MAX_LIMIT

FLOW_SERVICE = "/data/foundation/flowservice"
DATASETS = "/data/foundation/catalog/dataSets"
MAPPING_SETS = "/data/foundation/conversion/mappingSets"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
TOKEN = "/ims/token/v3"  # noqa: S105 - a path, not a secret
ERROR_STATUSES = ("400", "401", "403", "404", "413", "500")
CREATE_BODIES = {
    "connections": "ConnectionCreate",
    "sourceConnections": "SourceConnectionCreate",
    "targetConnections": "TargetConnectionCreate",
    "flows": "FlowCreate",
    "runs": "RunCreate",
    "webhooks": "WebhookCreate",
    "backfills": "BackfillCreate",
}
BACKFILLS = f"{FLOW_SERVICE}/backfills"


def install_openapi(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=DESCRIPTION
            )
            declare_read_headers(document, app.routes)
            complete(document, settings.max_page_limit)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


DESCRIPTION = (
    "Flow Service, Catalog (datasets), Data Prep (mapping sets) and sandbox APIs. Every "
    "call needs Authorization: Bearer, x-api-key and x-gw-ims-org-id; x-sandbox-name picks "
    "the sandbox (prod by default)."
)


def declare_read_headers(document: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """Each operation's headers that its dependencies read by hand (`sluice.api.headers`),
    after the parameters FastAPI found, where FastAPI listed its `Header()` parameters."""
    for route in _effective_routes(routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None or not getattr(route, "include_in_schema", False):
            continue
        headers = header_parameters(dependant)
        operations = document["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if headers and operation is not None:
                _add_parameters(operation, headers)


def _effective_routes(routes: Sequence[BaseRoute]) -> Iterable[Any]:
    """The routes as served, each with the dependencies of the router that includes it
    (FastAPI >= 0.160 keeps included routers as such; older versions copy their routes)."""
    contexts = getattr(routing, "iter_route_contexts", None)
    return routes if contexts is None else contexts(routes)


def _add_parameters(operation: dict[str, Any], parameters: list[dict[str, Any]]) -> None:
    if "parameters" in operation:
        operation["parameters"].extend(parameters)
        return
    # Where FastAPI puts the key (before the answers), so that the document reads the same.
    rest = {key: operation.pop(key) for key in list(operation) if key in ("responses",)}
    operation["parameters"] = list(parameters)
    operation.update(rest)


def complete(document: dict[str, Any], max_limit: int) -> None:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)  # Sluice answers 400 problems, never FastAPI's 422
    components.update(ANSWERS)
    components.update(body_schemas())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _complete_operation(path, method.upper(), operation, max_limit)


def _complete_operation(path: str, method: str, operation: dict[str, Any], limit: int) -> None:
    responses: dict[str, Any] = {}
    if path == TOKEN:
        _token(operation, responses)
    else:
        status, schema = _success(path, method)
        responses[status] = _answer(schema)
        if (method, path) == ("POST", f"{FLOW_SERVICE}/runs/{{run_id}}/action"):
            responses["201"] = _answer(ref("Created"))  # re-trigger creates a run
        if (method, path) == ("POST", BACKFILLS):
            responses["200"] = _answer(ref("BackfillPlan"), "The plan of a dry run.")
        statuses = ERROR_STATUSES + (("412",) if method != "GET" else ())
        takes_key = any(
            parameter.get("name") == "Idempotency-Key"
            for parameter in operation.get("parameters", [])
        )
        if takes_key or (method == "POST" and path.startswith(BACKFILLS)):
            # A key reused with another request (1490); an overlapping backfill, or an
            # action its status refuses.
            statuses += ("409",)
        for code in statuses:
            responses[code] = _answer(ref("Error"), "An error (problem or gateway document).")
        body = _request_body(path, method)
        if body is not None:
            operation["requestBody"] = {"required": True, "content": body}
        operation.setdefault("parameters", []).extend(_list_parameters(path, method, limit))
    operation["responses"] = responses


def _answer(schema: Schema | None, description: str = "OK") -> dict[str, Any]:
    if schema is None:
        return {"description": "No content"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _token(operation: dict[str, Any], responses: dict[str, Any]) -> None:
    form = {
        "type": "object",
        "required": ["grant_type", "client_id", "client_secret"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
        },
    }
    operation["requestBody"] = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": form}},
    }
    responses["200"] = _answer(ref("Token"))
    for code in ("400", "401"):
        responses[code] = _answer(ref("OAuthError"), "An OAuth error.")
    responses["413"] = _answer(ref("Error"), "The body is too large.")
    responses["500"] = _answer(ref("Error"), "An unexpected error.")


def _success(path: str, method: str) -> tuple[str, Schema | None]:
    for prefix, rules in ((DATASETS, _catalog), (SANDBOXES, _sandboxes)):
        if path.startswith(prefix):
            return rules(path[len(prefix) :], method)
    relative = path.split("/", 4)[-1] if path.startswith("/data/foundation/") else path
    return _flow_service("/" + relative, method)


def _catalog(rest: str, method: str) -> tuple[str, Schema | None]:
    extensions = {
        "/preview": "DatasetPreview",
        "/stats": "DatasetStats",
        "/history": "DatasetHistory",
    }
    for suffix, name in extensions.items():
        if rest.endswith(suffix):
            return "200", ref(name)
    if rest == "":
        return (
            ("201", ref("CatalogRefs"))
            if method == "POST"
            else ("200", ref("CatalogObjectsOrCount"))
        )
    return "200", ref("CatalogObjects") if method == "GET" else ref("CatalogRefs")


def _sandboxes(rest: str, method: str) -> tuple[str, Schema | None]:
    if method == "POST":
        return "201", ref("Sandbox")
    return "200", ref("Sandboxes") if rest == "" else ref("Sandbox")


def _flow_service(relative: str, method: str) -> tuple[str, Schema | None]:
    """`relative` is the path inside its service: `/flows/{resource_id}`, `/mappingSets`."""
    parts = relative.strip("/").split("/")
    last = parts[-1]
    if method == "DELETE":
        return "204", None
    if method == "PATCH":
        return "200", ref("Created")
    if method == "PUT":
        return "200", ref("MappingSetWritten")
    if last == "action":
        return "200", ref("Created")
    if method == "POST":
        if parts == ["runs"]:
            return "201", ref("RunCreated")
        return "201", ref("MappingSetWritten") if parts == ["mappingSets"] else ref("Created")
    named = {"test": "ConnectionTest", "explore": "Explore", "badRows": "Items", "logs": "Items"}
    if last in named:
        return "200", ref(named[last])
    if last == "deliveries":
        return "200", ref("Page")
    if _is_list(relative):
        return "200", ref("PageOrCount")
    return "200", ref("Item")


def _is_list(relative: str) -> bool:
    """A collection: `/flows`, `/flows/{flow_id}/runs` (not `/flows/{resource_id}`)."""
    return not relative.rstrip("/").endswith("}")


def _request_body(path: str, method: str) -> dict[str, Any] | None:
    json = "application/json"
    if path == DATASETS and method == "POST":
        return {json: {"schema": ref("DatasetCreate")}}
    if path.startswith(DATASETS) and method == "PATCH":
        return {json: {"schema": {"anyOf": [ref("JsonPatch"), {"type": "object"}]}}}
    if path == SANDBOXES and method == "POST":
        return {json: {"schema": ref("SandboxCreate")}}
    if path.startswith(MAPPING_SETS) and method in ("POST", "PUT"):
        return {json: {"schema": {"type": "object"}}}
    if method == "PATCH":
        return {"application/json-patch+json": {"schema": ref("JsonPatch")}}
    collection = path.removeprefix(f"{FLOW_SERVICE}/")
    if method == "POST" and collection in CREATE_BODIES:
        return {json: {"schema": ref(CREATE_BODIES[collection])}}
    return None


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }
    if schema.get("type") == "array":
        parameter.update(style="form", explode=True)
    return parameter


def _list_parameters(path: str, method: str, max_limit: int) -> list[dict[str, Any]]:
    if method != "GET":
        return []
    text = {"type": "string"}
    filters = {"type": "array", "items": {"type": "string"}}
    if path == DATASETS:
        return [
            _query("property", filters, "Filters such as name==orders (repeat to AND)."),
            _query("orderBy", text, "Sort: name, asc:created, desc:updated (comma-separated)."),
            _query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": CATALOG_MAX_LIMIT},
                "Page size.",
            ),
            _query("start", {"type": "integer", "minimum": 0}, "Offset of the first object."),
            _query("properties", text, "Top-level properties to show: name,description."),
            _query("count", {"type": "boolean"}, "Only the number of matches."),
        ]
    relative = path.removeprefix(FLOW_SERVICE).removeprefix("/data/foundation/conversion")
    if (
        path == SANDBOXES
        or not _is_list(relative)
        or relative.endswith(("/deliveries", "/badRows", "/logs"))
    ):
        return []
    if relative in ("/test", "/explore") or relative.endswith(("/test", "/explore")):
        return []
    return [
        _query("property", filters, "Filters such as name==orders (repeat to AND)."),
        _query("orderby", text, "Sort field: name, +createdAt, -createdAt."),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": max_limit}, "Page size."),
        _query("count", {"type": "boolean"}, "Only {count: N}; not with limit."),
        _query("continuationToken", text, "The token of _links.next.href."),
        _query("start", {"type": "integer", "minimum": 0}, "Accepted for compatibility; ignored."),
        _query("properties", text, "Top-level properties of each item: name,state."),
    ]
