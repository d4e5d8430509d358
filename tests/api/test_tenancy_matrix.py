"""Tenancy as a matrix: every route of the app's own OpenAPI document, called by a second org
and by a second sandbox of the same org with the ids of the first tenant's resources.

The routes are read from `app.openapi()`, not listed here: a new route under an existing
collection is covered without anyone writing a test, and a route under a new collection
fails `test_every_route_is_in_the_matrix` until the owner's fixture makes one of its
resources. Every call must answer 404, and afterwards the owner's resources are unchanged.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from test_tenant_isolation import create_sandbox

from support.api_bodies import FS, created_id
from support.callers import Caller, error_code
from support.flow_bodies import flow_body, table_flow_parts

MAPPING_SETS = "/data/foundation/conversion/mappingSets"
WEBHOOKS = f"{FS}/webhooks"
# Collections shared by every tenant (built-in specs) or named by the caller's own org
# (sandboxes by name: a second sandbox of the same org may read them): not tenant resources.
SHARED = {"connectionSpecs", "flowSpecs", "sandboxes"}
# Routes that need no tenant resource at all.
UNSCOPED = {"/ims/token/v3"}
_PARAM = re.compile(r"\{[^}]+\}")
HIJACK = [{"op": "replace", "path": "/name", "value": "hijacked"}]
# Values tried for a required query parameter: every action that could change something.
QUERY_VALUES = {"op": ("enable", "disable", "cancel", "re-trigger", "delete", "x")}


def operations(caller: Caller) -> list[tuple[str, str, list[str]]]:
    """(method, path template, required query parameters) of every operation in the app's
    OpenAPI document."""
    document = caller.http.app.openapi()  # type: ignore[attr-defined]
    return [
        (method.upper(), path, [p["name"] for p in op.get("parameters", [])
                                if p["in"] == "query" and p.get("required")])
        for path, ops in document["paths"].items()
        for method, op in ops.items() if method in ("get", "post", "put", "patch", "delete")
    ]


def routes(caller: Caller) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _query in operations(caller)]


def query_variants(required: list[str]) -> list[dict[str, str]]:
    variants: list[dict[str, str]] = [{}]
    for name in required:
        values = QUERY_VALUES.get(name, ("x",))
        variants = [{**v, name: value} for v in variants for value in values]
    return variants


def collection_of(template: str) -> str:
    """The collection a templated path's first id belongs to: `/flows/{id}/action` -> flows."""
    head = template.split("{", 1)[0].rstrip("/")
    return head.rsplit("/", 1)[-1]


def populate(owner: Caller, settings: Any) -> dict[str, dict[str, Any]]:
    """One resource of every tenant collection; each one's item as its owner reads it."""
    base, source, target_id = table_flow_parts(owner, Path(settings.allowed_file_roots[0]))
    flow = created_id(owner.post(f"{FS}/flows", json=flow_body(source, target_id)))
    run = owner.post(f"{FS}/runs", json={"flowId": flow, "params": {
        "windowStartTime": "0", "windowEndTime": "10", "deltaColumn": {"name": "updated_at"}}})
    assert run.status_code == 201, run.text
    target = owner.get(f"{FS}/targetConnections/{target_id}").json()["items"][0]
    mapping = created_id(owner.post(MAPPING_SETS, json={
        "name": "m", "mappings": [{"sourceType": "ATTRIBUTE", "source": "id",
                                   "destination": "id"}]}))
    webhook = created_id(owner.post(WEBHOOKS, json={
        "name": "ops", "url": "http://127.0.0.1:9/hook", "secret": "w" * 32,
        "events": ["flow_run_success"]}))
    backfill = created_id(owner.post(f"{FS}/backfills", json={
        "flowId": flow, "windowStartTime": 3600, "windowEndTime": 7 * 3600,
        "chunk": {"unit": "hour", "size": 2}, "parallelism": 1}))
    ids = {
        "backfills": backfill,
        "connections": base, "sourceConnections": source, "targetConnections": target_id,
        "dataSets": target["params"]["dataSetId"], "flows": flow,
        "runs": run.json()["items"][0]["id"], "mappingSets": mapping, "webhooks": webhook,
    }
    paths = {name: _collection_path(owner, name) for name in ids}
    return {name: {"path": paths[name], "id": ids[name],
                   "item": _read(owner, f"{paths[name]}/{ids[name]}")} for name in ids}


def _collection_path(caller: Caller, name: str) -> str:
    return next(p for _m, p in routes(caller) if "{" not in p and p.endswith(f"/{name}"))


def _read(caller: Caller, path: str) -> Any:
    response = caller.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    return body.get("items", body)


@pytest.fixture(params=["other-org", "other-sandbox"])
def intruder(request: pytest.FixtureRequest, caller: Caller, other_caller: Caller,
             settings: Any) -> Caller:
    if request.param == "other-org":
        return other_caller
    create_sandbox(settings, caller.org_id, "dev")
    return caller.in_sandbox("dev")


def test_every_route_is_in_the_matrix(caller: Caller, settings: Any) -> None:
    owned = populate(caller, settings)
    for method, template in routes(caller):
        if template in UNSCOPED or "{" not in template:
            continue
        collection = collection_of(template)
        assert collection in owned or collection in SHARED, (
            f"{method} {template}: add a resource of '{collection}' to populate()")


def _call(intruder: Caller, method: str, path: str, etag: str, query: dict[str, str]) -> Any:
    headers = {"If-Match": etag}
    if method == "PATCH":
        return intruder.patch(path, json=HIJACK, headers=headers, params=query)
    if method == "PUT":
        return intruder.put(path, json={"name": "hijacked", "mappings": []}, headers=headers,
                            params=query)
    if method == "POST":
        return intruder.post(path, json={"op": "disable"}, headers=headers, params=query)
    return intruder.request(method, path, headers=headers, params=query)


def test_every_route_answers_404_to_another_tenant_and_changes_nothing(
    caller: Caller, intruder: Caller, settings: Any
) -> None:
    owned = populate(caller, settings)
    calls = not_found = 0
    for method, template, required in operations(caller):
        collection = collection_of(template)
        if "{" not in template or collection not in owned:
            continue
        resource = owned[collection]
        path = _PARAM.sub(resource["id"], template, count=1)
        item = resource["item"]
        etag = item[0].get("etag", "*") if isinstance(item, list) else "*"
        missing_path = _PARAM.sub(str(uuid.uuid4()), template, count=1)
        for query in query_variants(required):
            response = _call(intruder, method, path, etag, query)
            # An action the route does not know is refused (400) before any lookup, for
            # any id alike; every other call is a 404, exactly as for a missing id.
            missing = _call(intruder, method, missing_path, etag, query)
            assert response.status_code == missing.status_code, (method, template, query)
            assert error_code(response) == error_code(missing), (method, template, query)
            if missing.status_code != 400:
                assert response.status_code == 404, (method, template, query, response.text)
                not_found += 1
            calls += 1
    assert not_found >= 30, (not_found, calls)
    # Lists and counts of the intruder show none of the owner's resources.
    for resource in owned.values():
        listed = intruder.get(resource["path"])
        assert listed.status_code == 200, listed.text
        assert resource["id"] not in listed.text
    # Nothing of the owner's changed (etags included).
    for resource in owned.values():
        assert _read(caller, f"{resource['path']}/{resource['id']}") == resource["item"]
