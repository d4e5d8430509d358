"""One tenant (org, or sandbox of the same org) never sees or touches another tenant's resources.

Another tenant's resource answers exactly like a missing one: 404 FLOW-1439-404, never 403.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from sluice.config import Settings
from sluice.store import tenants
from support.api_bodies import (
    CATALOG,
    FS,
    created_id,
    dataset,
    postgres_connection,
    sqlite_connection,
    sqlite_file,
    table_source,
    target,
)
from support.callers import Caller, error_code
from support.metadata_db import metadata_transaction

CONNECTIONS = f"{FS}/connections"
DATASETS = f"{CATALOG}/dataSets"
SOURCES = f"{FS}/sourceConnections"
TARGETS = f"{FS}/targetConnections"
RESOURCE_TYPES = {
    CONNECTIONS: "connections",
    DATASETS: "dataSets",
    SOURCES: "sourceConnections",
    TARGETS: "targetConnections",
}


def items_of(path: str, response: Any) -> list[dict[str, Any]]:
    """A Flow Service list envelope's items, or the Catalog's objects keyed by id."""
    body = response.json()
    if path == DATASETS:
        return [{"id": key, **value} for key, value in body.items()]
    items: list[dict[str, Any]] = body["items"]
    return items


def create_sandbox(settings: Settings, org_id: str, name: str) -> None:
    with metadata_transaction(settings) as session:
        tenants.create_sandbox(session, org_id, name)


def populate(owner: Caller, settings: Settings) -> dict[str, dict[str, Any]]:
    """One resource of each kind; returns each one's full item as the owner reads it."""
    database = sqlite_file(Path(settings.allowed_file_roots[0]), f"{uuid.uuid4().hex}.db")
    base = created_id(owner.post(CONNECTIONS, json=sqlite_connection(database)))
    dataset_id = created_id(owner.post(DATASETS, json=dataset()))
    source = created_id(owner.post(SOURCES, json=table_source(base)))
    target_id = created_id(owner.post(TARGETS, json=target(dataset_id)))
    ids = {CONNECTIONS: base, DATASETS: dataset_id, SOURCES: source, TARGETS: target_id}
    items = {}
    for path, resource_id in ids.items():
        response = owner.get(f"{path}/{resource_id}")
        assert response.status_code == 200, response.text
        items[path] = items_of(path, response)[0]
    return items


def assert_not_found(response: Any, path: str, resource_id: str) -> None:
    assert response.status_code == 404, response.text
    assert error_code(response) == "FLOW-1439-404"
    report = response.json()["report"]
    assert report["id"] == resource_id
    assert report["type"] == RESOURCE_TYPES[path]
    assert resource_id in report["detailed-message"]


@pytest.fixture(params=["other-org", "other-sandbox"])
def intruder(
    request: pytest.FixtureRequest, caller: Caller, other_caller: Caller, settings: Settings
) -> Caller:
    """`caller`'s resources live in its prod sandbox; this is someone who must not see them."""
    if request.param == "other-org":
        return other_caller
    create_sandbox(settings, caller.org_id, "dev")
    return caller.in_sandbox("dev")


def test_other_tenant_cannot_read_change_delete_or_list(
    caller: Caller, intruder: Caller, settings: Settings
) -> None:
    owned = populate(caller, settings)
    hijack = [{"op": "replace", "path": "/name", "value": "hijacked"}]
    for path, item in owned.items():
        resource_id = item["id"]
        assert_not_found(intruder.get(f"{path}/{resource_id}"), path, resource_id)
        patched = intruder.patch(
            f"{path}/{resource_id}", json=hijack, headers={"If-Match": item["etag"]}
        )
        assert_not_found(patched, path, resource_id)
        assert_not_found(intruder.delete(f"{path}/{resource_id}"), path, resource_id)

        listed = intruder.get(path)
        assert listed.status_code == 200
        assert items_of(path, listed) == []
        assert intruder.get(f"{path}?count=true").json() == {"count": 0}
        by_id = intruder.get(f"{path}?property=id=={resource_id}")
        assert items_of(path, by_id) == []
        by_name = intruder.get(f"{path}?property=name=={item['name']}&count=true")
        assert by_name.json() == {"count": 0}

    # After all of that, the owner's resources are exactly as they were.
    for path, item in owned.items():
        response = caller.get(f"{path}/{item['id']}")
        assert response.status_code == 200
        assert items_of(path, response)[0] == item
        assert caller.get(f"{path}?count=true").json() == {"count": 1}


def test_another_tenants_resource_looks_exactly_like_a_missing_one(
    caller: Caller, intruder: Caller
) -> None:
    connection_id = created_id(caller.post(CONNECTIONS, json=postgres_connection()))
    missing_id = str(uuid.uuid4())
    theirs = intruder.get(f"{CONNECTIONS}/{connection_id}").json()
    missing = intruder.get(f"{CONNECTIONS}/{missing_id}").json()
    for body in (theirs, missing):
        del body["report"]["request-id"]
    assert theirs == _swap(missing, missing_id, connection_id)


def _swap(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: _swap(v, old, new) for k, v in value.items()}
    if isinstance(value, str):
        return value.replace(old, new)
    return value


def test_resources_cannot_reference_another_tenants_resources(
    caller: Caller, intruder: Caller, settings: Settings
) -> None:
    owned = populate(caller, settings)
    source = intruder.post(SOURCES, json=table_source(owned[CONNECTIONS]["id"]))
    assert source.status_code in (400, 404), source.text
    assert owned[CONNECTIONS]["id"] in source.json()["report"]["detailed-message"]
    target_body = target(owned[DATASETS]["id"])
    refused = intruder.post(TARGETS, json=target_body)
    assert refused.status_code == 400 and error_code(refused) == "FLOW-1325-400"
    assert intruder.get(f"{SOURCES}?count=true").json() == {"count": 0}
    assert intruder.get(f"{TARGETS}?count=true").json() == {"count": 0}


def test_same_names_in_two_sandboxes_stay_apart(caller: Caller, settings: Settings) -> None:
    create_sandbox(settings, caller.org_id, "dev")
    dev = caller.in_sandbox("dev")
    in_prod = created_id(caller.post(DATASETS, json=dataset("shared")))
    in_dev = created_id(dev.post(DATASETS, json=dataset("shared")))
    prod_items = items_of(DATASETS, caller.get(f"{DATASETS}?property=name==shared"))
    dev_items = items_of(DATASETS, dev.get(f"{DATASETS}?property=name==shared"))
    assert [i["id"] for i in prod_items] == [in_prod]
    assert [i["id"] for i in dev_items] == [in_dev]
    assert prod_items[0]["sandboxName"] == "prod" and dev_items[0]["sandboxName"] == "dev"
    assert prod_items[0]["sandboxId"] != dev_items[0]["sandboxId"]
    assert dev.delete(f"{DATASETS}/{in_dev}").json() == [f"@/dataSets/{in_dev}"]
    assert caller.get(f"{DATASETS}/{in_prod}").status_code == 200
