"""The dataset catalog in the Catalog API's shapes: objects keyed by id, `["@/dataSets/{id}"]`
for writes, `start`/`limit`/`orderBy`/`properties` and simple filters on lists, and
Sluice's extensions (preview, stats, history) under the same resource."""

from __future__ import annotations

import time
from typing import Any

from support.api_bodies import CATALOG, created_id
from support.callers import Caller, error_code

DATASETS = f"{CATALOG}/dataSets"


def create(caller: Caller, name: str, **fields: Any) -> str:
    response = caller.post(DATASETS, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    dataset_id = created_id(response)
    assert response.json() == [f"@/dataSets/{dataset_id}"]
    assert response.headers["location"] == f"{DATASETS}/{dataset_id}"
    assert response.headers["etag"]
    return dataset_id


def objects(caller: Caller, query: str = "") -> dict[str, dict[str, Any]]:
    response = caller.get(f"{DATASETS}?{query}")
    assert response.status_code == 200, response.text
    body: dict[str, dict[str, Any]] = response.json()
    return body


def test_create_get_update_delete_in_catalog_shapes(caller: Caller) -> None:
    dataset_id = create(caller, "LoyaltyMembersDataset", schemaRef={
        "id": "https://ns.adobe.com/tenant/schemas/719c4e19184402c27595e65b931a142b",
        "contentType": "application/vnd.adobe.xed+json;version=1"})
    body = caller.get(f"{DATASETS}/{dataset_id}").json()
    assert list(body) == [dataset_id]
    item = body[dataset_id]
    assert item["name"] == "LoyaltyMembersDataset"
    assert item["imsOrg"] == caller.org_id and item["createdClient"] == caller.client_id
    assert isinstance(item["created"], int) and item["updated"] >= item["created"]
    assert item["schemaRef"]["contentType"] == "application/vnd.adobe.xed+json;version=1"
    assert item["tags"] == {} and item["format"] == "delta"
    only = caller.get(f"{DATASETS}/{dataset_id}?properties=name,tags,nope").json()
    assert only == {dataset_id: {"name": "LoyaltyMembersDataset", "tags": {}}}

    # "Update using fields" (no If-Match, as the Catalog's curl), then JSON Patch.
    fields = caller.patch(f"{DATASETS}/{dataset_id}", json={
        "name": "Updated Dataset Name", "description": "Updated description",
        "created": 1})
    assert fields.status_code == 200, fields.text
    assert fields.json() == [f"@/dataSets/{dataset_id}"]
    assert fields.headers["x-sluice-ignored-fields"] == "created"
    patched = caller.patch(f"{DATASETS}/{dataset_id}", json=[
        {"op": "add", "path": "/description", "value": "New description"}],
        headers={"content-type": "application/json-patch+json"})
    assert patched.json() == [f"@/dataSets/{dataset_id}"]
    after = caller.get(f"{DATASETS}/{dataset_id}").json()[dataset_id]
    assert (after["name"], after["description"]) == ("Updated Dataset Name", "New description")
    assert after["created"] == item["created"]
    stale = caller.patch(f"{DATASETS}/{dataset_id}", json={"name": "x"},
                         headers={"If-Match": item["etag"]})
    assert error_code(stale) == "FLOW-1404-412"

    deleted = caller.delete(f"{DATASETS}/{dataset_id}")
    assert (deleted.status_code, deleted.json()) == (200, [f"@/dataSets/{dataset_id}"])
    assert error_code(caller.get(f"{DATASETS}/{dataset_id}")) == "FLOW-1439-404"


def test_lists_are_keyed_by_id_and_page_with_start_and_limit(caller: Caller) -> None:
    ids = []
    for name in ("b", "a", "d", "c", "e"):
        ids.append(create(caller, name))
        time.sleep(0.003)  # distinct `created` stamps
    listing = objects(caller)
    assert list(listing) == ids[::-1]  # newest first by default
    assert all("name" in value and "id" not in value for value in listing.values())
    assert [v["name"] for v in objects(caller, "orderBy=name").values()] == list("abcde")
    assert [v["name"] for v in objects(caller, "orderBy=desc:name").values()] == list("edcba")
    assert list(objects(caller, "orderBy=asc:created")) == ids
    pages = [objects(caller, f"orderBy=name&limit=2&start={s}") for s in (0, 2, 4, 6)]
    assert [[v["name"] for v in page.values()] for page in pages] == [
        ["a", "b"], ["c", "d"], ["e"], []]
    shown = objects(caller, "limit=1&properties=name,description")
    assert list(shown.values()) == [{"name": "e", "description": ""}]
    assert sorted(v["name"] for v in objects(caller, "name=a,c").values()) == ["a", "c"]
    assert sorted(v["name"] for v in objects(caller, "name=!a,c").values()) == ["b", "d", "e"]
    assert [v["name"] for v in objects(caller, "property=name==d").values()] == ["d"]
    pivot = objects(caller)[ids[2]]["created"]
    after = objects(caller, f"createdAfter={pivot}&orderBy=created")
    assert [v["name"] for v in after.values()] == ["c", "e"]
    assert caller.get(f"{DATASETS}?count=true&name=a,b").json() == {"count": 2}
    # The default page is the Catalog's 20.
    for n in range(20):
        create(caller, f"many {n}")
    assert len(objects(caller)) == 20 and len(objects(caller, "limit=100")) == 25


def test_extensions_under_the_dataset(caller: Caller) -> None:
    dataset_id = create(caller, "empty")
    links = caller.get(f"{DATASETS}/{dataset_id}").json()[dataset_id]["_links"]
    assert links == {name: {"href": f"/dataSets/{dataset_id}{suffix}"} for name, suffix in (
        ("self", ""), ("preview", "/preview"), ("stats", "/stats"), ("history", "/history"))}
    stats = caller.get(f"{DATASETS}/{dataset_id}/stats").json()
    assert stats == {"dataSetId": dataset_id, "version": None, "rowCount": 0, "fileCount": 0,
                     "sizeBytes": 0}
    assert caller.get(f"{DATASETS}/{dataset_id}/history").json() == {
        "dataSetId": dataset_id, "items": []}
    preview = caller.get(f"{DATASETS}/{dataset_id}/preview").json()
    assert (preview["rows"], preview["rowCount"]) == ([], 0)
    for suffix in ("stats", "history", "preview"):
        assert error_code(caller.get(f"{DATASETS}/nope/{suffix}")) == "FLOW-1439-404"
