"""Mapping sets over HTTP: versions, validation codes, use by flows, tenant isolation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sluice.client import SluiceApiError, SluiceClient
from sluice.config import Settings
from support.api_bodies import FS, created_id
from support.callers import Caller, error_code
from support.flow_bodies import flow_body, table_flow_parts

MAPPING_SETS = "/data/foundation/conversion/mappingSets"


def mapping_body(*mappings: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "orders mapping",
        "mappings": list(mappings)
        or [{"sourceType": "ATTRIBUTE", "source": "id", "destination": "id"}],
        **extra,
    }


def create_set(caller: Caller, *mappings: dict[str, Any], **extra: Any) -> str:
    return created_id(caller.post(MAPPING_SETS, json=mapping_body(*mappings, **extra)))


def get_set(caller: Caller, mapping_id: str, **params: Any) -> dict[str, Any]:
    response = caller.get(f"{MAPPING_SETS}/{mapping_id}", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json()["items"][0])


def mapping_transformation(mapping_id: str, version: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"mappingId": mapping_id}
    if version is not None:
        params["mappingVersion"] = version
    return {"name": "Mapping", "params": params}


def test_create_then_read_answers_version_zero_with_the_rules(caller: Caller) -> None:
    body = mapping_body(
        {"sourceType": "ATTRIBUTE", "source": "customer.name", "destination": "customer_name"},
        {"sourceType": "ATTRIBUTE", "source": "$.payload.items[0].sku", "destination": "sku",
         "destinationType": "STRING", "default": "none"},
        {"sourceType": "CONSTANT", "value": 7, "destination": "channel",
         "destinationType": "integer"},
        description="orders to the lake",
    )
    response = caller.post(MAPPING_SETS, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["version"] == 0
    assert response.headers["ETag"] == created["etag"]
    item = get_set(caller, created["id"])
    assert item["id"] == created["id"]
    assert item["version"] == 0 and item["latestVersion"] == 0
    assert item["name"] == "orders mapping"
    assert item["description"] == "orders to the lake"
    assert item["imsOrgId"] == caller.org_id and item["sandboxName"] == "prod"
    assert item["mappings"] == [
        {"sourceType": "ATTRIBUTE", "source": "customer.name", "destination": "customer_name"},
        {"sourceType": "ATTRIBUTE", "source": "$.payload.items[0].sku", "destination": "sku",
         "destinationType": "string", "default": "none"},
        {"sourceType": "CONSTANT", "value": 7, "destination": "channel",
         "destinationType": "integer"},
    ]


def test_put_makes_a_new_version_and_old_versions_stay_readable(caller: Caller) -> None:
    mapping_id = create_set(caller)
    first = get_set(caller, mapping_id)
    replacement = mapping_body(
        {"sourceType": "ATTRIBUTE", "source": "id", "destination": "order_id"}, name="renamed"
    )
    missing = caller.put(f"{MAPPING_SETS}/{mapping_id}", json=replacement)
    assert missing.status_code == 400 and error_code(missing) == "FLOW-1403-400"
    stale = caller.put(
        f"{MAPPING_SETS}/{mapping_id}", json=replacement, headers={"If-Match": '"stale"'}
    )
    assert stale.status_code == 412 and error_code(stale) == "FLOW-1404-412"
    response = caller.put(
        f"{MAPPING_SETS}/{mapping_id}", json=replacement, headers={"If-Match": first["etag"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert response.json()["etag"] != first["etag"]
    latest = get_set(caller, mapping_id)
    assert latest["version"] == 1 and latest["name"] == "renamed"
    assert latest["mappings"][0]["destination"] == "order_id"
    old = get_set(caller, mapping_id, version=0)
    assert old["version"] == 0 and old["latestVersion"] == 1
    assert old["name"] == "orders mapping"
    assert old["mappings"][0]["destination"] == "id"
    for bad in ("2", "-1", "one"):
        wrong = caller.get(f"{MAPPING_SETS}/{mapping_id}", params={"version": bad})
        assert wrong.status_code == 400 and error_code(wrong) == "FLOW-1412-400", bad
    # A refused PUT changed nothing.
    invalid = caller.put(
        f"{MAPPING_SETS}/{mapping_id}", json={"mappings": []}, headers={"If-Match": "*"}
    )
    assert error_code(invalid) == "FLOW-1419-400"
    assert get_set(caller, mapping_id)["version"] == 1


def test_list_filters_pages_and_counts(caller: Caller) -> None:
    ids = [create_set(caller, name=f"set {i}") for i in range(3)]
    listed = caller.get(MAPPING_SETS, params={"limit": 2}).json()
    assert len(listed["items"]) == 2
    href = listed["_links"]["next"]["href"]
    assert href.startswith("/mappingSets?continuationToken=")  # relative to the service
    rest = caller.get("/data/foundation/conversion" + href).json()
    assert {i["id"] for i in listed["items"] + rest["items"]} == set(ids)
    named = caller.get(MAPPING_SETS, params={"property": "name==set 1"}).json()["items"]
    assert [i["id"] for i in named] == [ids[1]]
    assert caller.get(MAPPING_SETS, params={"count": "true"}).json() == {"count": 3}
    caller.put(f"{MAPPING_SETS}/{ids[2]}", json=mapping_body(name="set 2"),
               headers={"If-Match": "*"})
    versioned = caller.get(MAPPING_SETS, params={"property": "version>0"}).json()["items"]
    assert [i["id"] for i in versioned] == [ids[2]]


BAD_BODIES = [
    ({"mappings": []}, "non-empty"),
    ({"name": "x"}, "non-empty"),
    ([], "JSON object"),
    ({"mappings": [{"source": "a", "destination": "x"}, {"source": "b", "destination": "X"}]},
     "duplicate destinations"),
    ({"mappings": [{"source": "a", "destination": "x", "destinationType": "varchar"}]},
     "Unknown column type"),
    ({"mappings": [{"sourceType": "CONSTANT", "destination": "x"}]}, "needs a value"),
    ({"mappings": [{"sourceType": "CONSTANT", "value": None, "destination": "x"}]},
     "needs a value"),
    ({"mappings": [{"sourceType": "CONSTANT", "value": "abc", "destination": "x",
                    "destinationType": "long"}]}, "not a valid long"),
    ({"mappings": [{"source": "a", "destination": "x", "default": "soon",
                    "destinationType": "date"}]}, "not a valid date"),
    ({"mappings": [{"source": "a", "destination": "x", "default": {"a": 1}}]}, "JSON scalar"),
    ({"mappings": [{"source": "a..b", "destination": "x"}]}, "bad source path"),
    ({"mappings": [{"source": "a.", "destination": "x"}]}, "bad source path"),
    ({"mappings": [{"source": "$", "destination": "x"}]}, "bad source path"),
    ({"mappings": [{"source": "$a.b", "destination": "x"}]}, "bad source path"),
    ({"mappings": [{"source": "$.a[x]", "destination": "x"}]}, "bad source path"),
    ({"mappings": [{"source": "a[0]", "destination": "x"}]}, "only allowed in JSON paths"),
    ({"mappings": [{"source": "a['b'", "destination": "x"}]}, "bad source path"),
    ({"mappings": [{"sourceType": "ATTRIBUTE", "destination": "x"}]}, "needs a source"),
    ({"mappings": [{"sourceType": "EXPRESSION", "source": "a", "destination": "x"}]},
     "sourceType"),
    ({"mappings": [{"source": "a", "destination": " "}]}, "destination"),
    ({"mappings": [{"source": "a", "destination": "_sluice_run_id"}]}, "reserved"),
    ({"mappings": [{"source": "a", "destination": "x", "destinationtype": "long"}]},
     "unknown field"),
    ({"mappings": [{"source": "a", "destination": "x"}], "xdm": 1}, "unknown field"),
    ({"mappings": [{"source": "a", "destination": "x"}], "outputSchema": {"dataSetId": "nope"}},
     "not a dataset"),
]


@pytest.mark.parametrize(("body", "detail"), BAD_BODIES)
def test_invalid_mapping_sets_are_refused_with_1419(
    caller: Caller, body: Any, detail: str
) -> None:
    response = caller.post(MAPPING_SETS, json=body)
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1419-400"
    assert detail in response.json()["report"]["detailed-message"]
    assert caller.get(MAPPING_SETS, params={"count": "true"}).json() == {"count": 0}


def test_output_dataset_with_a_conflicting_declared_type_is_1425(
    caller: Caller, settings: Settings
) -> None:
    _base, _source, target_id = table_flow_parts(caller, Path(settings.allowed_file_roots[0]))
    dataset_id = caller.get(f"{FS}/targetConnections/{target_id}").json()["items"][0]["params"][
        "dataSetId"]
    conflicting = mapping_body(
        {"source": "id", "destination": "ID", "destinationType": "double"},
        outputSchema={"dataSetId": dataset_id},
    )
    response = caller.post(MAPPING_SETS, json=conflicting)
    assert response.status_code == 400 and error_code(response) == "FLOW-1425-400"
    assert "'ID' is mapped as double but the dataset declares long" in response.text
    # A narrower type widens into the declared one; a new column is allowed here.
    fitting = mapping_body(
        {"source": "id", "destination": "id", "destinationType": "integer"},
        {"source": "note", "destination": "note"},
        outputSchema={"dataSetId": dataset_id},
    )
    assert caller.post(MAPPING_SETS, json=fitting).status_code == 201


def test_flows_pin_the_version_and_check_the_mapping(caller: Caller, settings: Settings) -> None:
    _base, source, target_id = table_flow_parts(caller, Path(settings.allowed_file_roots[0]))
    mapping_id = create_set(caller)
    caller.put(f"{MAPPING_SETS}/{mapping_id}", json=mapping_body(), headers={"If-Match": "*"})

    unknown = caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation("no-such-set")]))
    assert unknown.status_code == 400 and error_code(unknown) == "FLOW-1439-400"
    assert "no-such-set" in unknown.text
    missing_version = caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation(mapping_id, 2)]))
    assert missing_version.status_code == 400
    assert error_code(missing_version) == "FLOW-1412-400"

    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation(mapping_id)])))
    flow = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]
    assert flow["transformations"] == [mapping_transformation(mapping_id, 1)]
    pinned_old = created_id(caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation(mapping_id, "0")])))
    old_flow = caller.get(f"{FS}/flows/{pinned_old}").json()["items"][0]
    assert old_flow["transformations"] == [mapping_transformation(mapping_id, 0)]


def test_flow_mapping_must_fit_the_declared_dataset_schema(
    caller: Caller, settings: Settings
) -> None:
    _base, source, target_id = table_flow_parts(caller, Path(settings.allowed_file_roots[0]))
    lossy = create_set(caller, {"source": "id", "destination": "id", "destinationType": "double"},
                       {"source": "updated_at", "destination": "updated_at",
                        "destinationType": "date"})
    response = caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation(lossy)]))
    assert response.status_code == 400 and error_code(response) == "FLOW-1425-400"
    message = response.json()["report"]["detailed-message"]
    assert "'id' is mapped as double but the dataset declares long" in message
    # date -> timestamp widens: not a conflict.
    assert "updated_at" not in message

    new_column = create_set(caller, {"source": "id", "destination": "id"},
                            {"source": "status", "destination": "status"})
    frozen = caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation(new_column)],
        options={"schemaEvolution": "frozen"}))
    assert frozen.status_code == 400 and error_code(frozen) == "FLOW-1425-400"
    assert "'status' is not a column of the dataset" in frozen.text
    # addColumns (the default) adds the column on the first run: nothing to refuse.
    assert caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation(new_column)])
    ).status_code == 201
    unknown_option = caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, options={"schemaEvolution": "sometimes"}))
    assert unknown_option.status_code == 400


def test_a_mapping_set_in_use_cannot_be_deleted(caller: Caller, settings: Settings) -> None:
    _base, source, target_id = table_flow_parts(caller, Path(settings.allowed_file_roots[0]))
    used, spare = create_set(caller), create_set(caller)
    flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation(used)])))
    refused = caller.delete(f"{MAPPING_SETS}/{used}")
    assert refused.status_code == 400 and error_code(refused) == "FLOW-1447-400"
    assert flow_id in refused.json()["report"]["detailed-message"]
    assert get_set(caller, used)["id"] == used

    # Pointing the flow at another set frees the first one and holds the other.
    etag = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]["etag"]
    patched = caller.patch(f"{FS}/flows/{flow_id}", headers={"If-Match": etag}, json=[
        {"op": "replace", "path": "/transformations/0", "value": mapping_transformation(spare)}])
    assert patched.status_code == 200, patched.text
    assert error_code(caller.delete(f"{MAPPING_SETS}/{spare}")) == "FLOW-1447-400"
    assert caller.delete(f"{MAPPING_SETS}/{used}").status_code == 204
    assert caller.get(f"{MAPPING_SETS}/{used}").status_code == 404

    assert caller.delete(f"{FS}/flows/{flow_id}").status_code == 204
    assert caller.delete(f"{MAPPING_SETS}/{spare}").status_code == 204


def test_other_tenants_cannot_see_or_touch_a_mapping_set(
    caller: Caller, other_caller: Caller, settings: Settings
) -> None:
    mapping_id = create_set(caller)
    for response in (
        other_caller.get(f"{MAPPING_SETS}/{mapping_id}"),
        other_caller.get(f"{MAPPING_SETS}/{mapping_id}", params={"version": 0}),
        other_caller.put(f"{MAPPING_SETS}/{mapping_id}", json=mapping_body(),
                         headers={"If-Match": "*"}),
        other_caller.delete(f"{MAPPING_SETS}/{mapping_id}"),
    ):
        assert response.status_code == 404, response.text
        assert error_code(response) == "FLOW-1439-404"
        assert "not found" in response.json()["report"]["detailed-message"]
    assert other_caller.get(MAPPING_SETS).json()["items"] == []
    # Nor can their flows name it.
    _base, source, target_id = table_flow_parts(
        other_caller, Path(settings.allowed_file_roots[0]))
    response = other_caller.post(f"{FS}/flows", json=flow_body(
        source, target_id, transformations=[mapping_transformation(mapping_id)]))
    assert response.status_code == 400 and error_code(response) == "FLOW-1439-400"
    assert get_set(caller, mapping_id)["version"] == 0


def test_unauthenticated_calls_are_refused(caller: Caller) -> None:
    response = caller.http.get(MAPPING_SETS)
    assert response.status_code in (401, 403)


def test_the_python_client_creates_reads_versions_and_deletes(caller: Caller) -> None:
    client = SluiceClient("http://testserver", caller.org_id, caller.client_id,
                          caller.client_secret, http=caller.http)
    created = client.mapping_sets.create(mapping_body())
    assert created.version == 0
    replaced = client.mapping_sets.replace(created.id, mapping_body(name="second"))
    assert replaced.version == 1 and replaced.etag != created.etag
    with pytest.raises(SluiceApiError) as stale:
        client.mapping_sets.replace(created.id, mapping_body(), etag=created.etag)
    assert stale.value.status == 412
    assert client.mapping_sets.get(created.id)["name"] == "second"
    assert client.mapping_sets.get_version(created.id, 0)["name"] == "orders mapping"
    assert [m["id"] for m in client.mapping_sets.list()] == [created.id]
    client.mapping_sets.delete(created.id)
    assert client.mapping_sets.count() == 0
