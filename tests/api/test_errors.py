"""Bad requests get coded problem documents, never a 500: body syntax and shape, content type,
size limit, unknown routes and methods, request ids, and a fuzz pass over the create routes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from sluice.config import Settings
from support.api_bodies import CATALOG, FS, created_id, dataset, postgres_connection, target
from support.callers import Caller, error_code

CONNECTIONS = f"{FS}/connections"
DATASETS = f"{CATALOG}/dataSets"
TARGETS = f"{FS}/targetConnections"
CREATE_ROUTES = [
    CONNECTIONS,
    f"{FS}/sourceConnections",
    TARGETS,
    f"{FS}/flows",
    DATASETS,
    "/data/foundation/sandbox-management/sandboxes",
]
JSON = {"content-type": "application/json"}
CODED = re.compile(r"^https://ns\.adobe\.com/aep/errors/FLOW-\d{4}-\d{3}$")
BAD_CONTENT_TYPE = {
    "type": "/placeholder/type/uri",
    "status": 400,
    "title": "BadRequestError",
    "detail": "A valid content-type must be specified",
}


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A problem document of the reference's shape, tied to the response's request id."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert CODED.match(body["type"]), body
    assert body["status"] == status
    assert body["title"]
    report = body["report"]
    assert report["detailed-message"]
    assert report["request-id"] == response.headers["x-request-id"]
    assert body["errorMessage"] == report["detailed-message"]
    if code is not None:
        assert error_code(response) == code
    return body


def count(caller: Caller, path: str) -> int:
    total: int = caller.get(f"{path}?count=true").json()["count"]
    return total


# --- body syntax and shape ----------------------------------------------------------------------


def test_malformed_json_is_1001_with_the_request_id(caller: Caller) -> None:
    for content in (b'{"name":', b"{name: 1}", b"{'name': 'x'}", b'{"name": "x",}', b"\xff\xfe"):
        response = caller.post(DATASETS, content=content, headers=JSON)
        assert_problem(response, 400, "FLOW-1001-400")
    mine = caller.post(DATASETS, content=b"{", headers={**JSON, "x-request-id": "req-1001"})
    assert assert_problem(mine, 400)["report"]["request-id"] == "req-1001"
    assert count(caller, DATASETS) == 0


def test_empty_body_is_1405(caller: Caller) -> None:
    for content in (b"", b"   \n\t "):
        for method, path in (("POST", DATASETS), ("PATCH", f"{DATASETS}/any-id")):
            response = caller.request(method, path, content=content, headers=JSON)
            assert_problem(response, 400, "FLOW-1405-400")


def test_wrong_content_type_gets_the_references_body(caller: Caller) -> None:
    body = json.dumps(dataset()).encode()
    for content_type in ("text/plain", "application/xml", "application/jsonx", "json"):
        response = caller.post(DATASETS, content=body, headers={"content-type": content_type})
        assert response.status_code == 400, content_type
        assert response.json() == BAD_CONTENT_TYPE
    # A real form (or any body that is not JSON) without a JSON type is still refused.
    form = caller.post(DATASETS, data={"name": "x"})
    assert (form.status_code, form.json()) == (400, BAD_CONTENT_TYPE)
    bare = caller.post(DATASETS, content=b"not json", headers={"content-type": ""})
    assert (bare.status_code, bare.json()) == (400, BAD_CONTENT_TYPE)
    assert count(caller, DATASETS) == 0
    charset = caller.post(
        DATASETS, content=body, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert charset.status_code == 201


def test_wrong_shapes_and_types_are_coded_400s(caller: Caller) -> None:
    cases: list[tuple[Any, str]] = [
        ([dataset()], "JSON object"),
        ("a string", "JSON object"),
        (12, "JSON object"),
        ({"name": 5}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": "x", "schema": {"fields": "id"}}, "schema"),
        ({"name": "x", "tags": {"team": "core"}}, "tags"),
        # Unknown fields are ignored, but a known one with a bad value is still refused.
        ({"name": "x", "bogus": 1, "description": 7}, "description"),
    ]
    for body, mentioned in cases:
        response = caller.post(DATASETS, json=body)
        problem = assert_problem(response, 400)
        assert mentioned in problem["report"]["detailed-message"], (body, problem)
    connection = postgres_connection()
    connection["surprise"] = {"x": 1}
    connection["auth"]["specName"] = 5
    problem = assert_problem(caller.post(CONNECTIONS, json=connection), 400)
    assert "specName" in problem["report"]["detailed-message"]
    patch = caller.post(DATASETS, json=dataset())
    etag, dataset_id = patch.headers["etag"], created_id(patch)
    # An object is the Catalog's "update using fields": one with no updatable field is a
    # patch with nothing to do.
    not_a_list = caller.patch(
        f"{DATASETS}/{dataset_id}",
        json={"op": "replace", "path": "/name", "value": "n"},
        headers={"If-Match": etag},
    )
    assert_problem(not_a_list, 400, "FLOW-1455-400")
    assert count(caller, DATASETS) == 1
    assert count(caller, CONNECTIONS) == 0


# --- size limit ---------------------------------------------------------------------------------


def test_body_over_the_limit_is_413(caller: Caller, settings: Settings) -> None:
    limit = settings.max_body_bytes
    padding = "y" * (limit + 10)
    declared = caller.post(DATASETS, json={"name": "big", "description": padding})
    assert int(declared.request.headers["content-length"]) > limit
    assert_problem(declared, 413, "FLOW-1006-413")

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "big", "description": "'
        for _ in range(limit // 65536 + 1):
            yield b"z" * 65536
        yield b'"}'

    streamed = caller.post(DATASETS, content=chunks(), headers=JSON)
    assert "content-length" not in streamed.request.headers
    assert streamed.request.headers["transfer-encoding"] == "chunked"
    assert_problem(streamed, 413, "FLOW-1006-413")
    assert count(caller, DATASETS) == 0

    # Just under the limit is read (and then refused for its content, not its size).
    fits = json.dumps({"name": "fits", "description": "y" * (limit - 100)}).encode()
    assert len(fits) <= limit
    near = caller.post(DATASETS, content=fits, headers=JSON)
    assert near.status_code == 400 and error_code(near) != "FLOW-1006-413"

    def small_chunks() -> Iterator[bytes]:
        yield b'{"name": '
        yield b'"streamed"}'

    assert caller.post(DATASETS, content=small_chunks(), headers=JSON).status_code == 201


# --- routes, methods, request ids ---------------------------------------------------------------


def test_unknown_route_is_1101(caller: Caller) -> None:
    for path in ("/nope", f"{FS}/nope", f"{FS}/connections/x/y/z", "/data/foundation"):
        response = caller.get(path)
        assert_problem(response, 404, "FLOW-1101-404")
        assert path.rstrip("/") in response.json()["report"]["detailed-message"]
    anonymous = caller.http.get(f"{FS}/nope")
    assert_problem(anonymous, 404, "FLOW-1101-404")


def test_wrong_method_is_405_with_allow(caller: Caller) -> None:
    expected = {
        ("DELETE", CONNECTIONS): {"GET", "POST"},
        ("PUT", f"{CONNECTIONS}/some-id"): {"GET", "PATCH", "DELETE"},
        ("POST", f"{FS}/connectionSpecs"): {"GET"},
        ("PATCH", DATASETS): {"GET", "POST"},
        ("GET", "/ims/token/v3"): {"POST"},
    }
    for (method, path), allowed in expected.items():
        response = caller.request(method, path)
        assert_problem(response, 405, "FLOW-1007-405")
        assert set(response.headers["allow"].split(", ")) == allowed, (method, path)


def test_request_id_is_echoed_or_generated(caller: Caller) -> None:
    given = caller.get(f"{FS}/nope", headers={"x-request-id": "trace-42.a:b"})
    assert given.headers["x-request-id"] == "trace-42.a:b"
    assert given.json()["report"]["request-id"] == "trace-42.a:b"
    ok = caller.get(CONNECTIONS, headers={"x-request-id": "trace-43"})
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "trace-43"
    gateway = caller.http.get(CONNECTIONS, headers={"x-request-id": "trace-44"})
    assert gateway.status_code == 403 and gateway.headers["x-request-id"] == "trace-44"
    # Missing or unusable ids are replaced by a fresh one, different on every request.
    generated = set()
    for header in ({}, {"x-request-id": "has spaces"}, {"x-request-id": "x" * 129}):
        response = caller.get(f"{FS}/nope", headers=header)
        request_id = response.headers["x-request-id"]
        assert str(uuid.UUID(request_id)) == request_id
        assert response.json()["report"]["request-id"] == request_id
        generated.add(request_id)
    assert len(generated) == 3


# --- fuzz ---------------------------------------------------------------------------------------

ODD_RAW_BODIES: list[bytes] = [
    b"null",
    b"123",
    b"-0.0",
    b"1e999",
    b'"str"',
    b"true",
    b"[]",
    b"[{}]",
    b"{}",
    b'{"name":{}}',
    b'{"name":"a","name":"b"}',
    b'{"name":' + b"[" * 500 + b"]" * 500 + b"}",
    b'{"name":"x","schemaRef":' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}",
    b"\xef\xbb\xbf" + json.dumps(dataset()).encode(),
    b'{"name":"caf\xe9"}',
    b'{"name":"\\ud800"}',
]
ODD_JSON_BODIES: list[Any] = [
    {"name": "名前 🚀 \u202ertl e\u0301", "description": "Ωmega \U0001f600 \u200b"},
    {"name": "x" * 900_000},
    {"name": "x", "description": "y" * 900_000},
    {"name": "x", "schemaRef": {"blob": "z" * 900_000}},
    {"k" * 10_000: 1},
    {"name": "a\x01\x7f\n\t"},
    {"name": " ", "description": None},
    {
        "name": ["a"],
        "auth": "x",
        "connectionSpec": [],
        "data": 5,
        "params": "p",
        "schema": 1,
        "flowSpec": {"id": 5},
    },
    {"name": "x", "connectionSpec": {"id": 5, "version": []}},
    {"name": "x", "connectionSpec": {"id": "../../etc/passwd"}},
    {"name": "x", "params": {"a": [[[[{"b": None}]]]]}, "data": {"format": None}},
    {"name": "t", "params": {"dataSetId": {"a": 1}}, "connectionSpec": {"id": "x"}},
    {
        "name": "f",
        "flowSpec": {"id": "x"},
        "sourceConnectionIds": [None, 5],
        "targetConnectionIds": "x",
        "scheduleParams": {"startTime": "abc", "frequency": 5},
    },
    {"name": "f", "transformations": [None, 1, {"name": None}], "scheduleParams": []},
    {"name": "x", "title": None, "type": 5},
    {"name": 1.7976931348623157e308, "description": -1},
    {"name": True, "tags": {"a": [1, None]}},
]


def test_odd_bodies_never_cause_a_500(caller: Caller) -> None:
    outcomes: dict[int, int] = {}
    for route in CREATE_ROUTES:
        requests = [(body, "raw") for body in ODD_RAW_BODIES]
        requests += [(body, "json") for body in ODD_JSON_BODIES]
        for body, kind in requests:
            if kind == "raw":
                response = caller.post(route, content=body, headers=JSON)
            else:
                response = caller.post(route, json=body)
            shown = repr(body)[:80]
            assert response.status_code < 500, (route, shown, response.text[:300])
            outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
            if response.status_code >= 400:
                assert CODED.match(response.json()["type"]), (route, shown, response.text)
            else:
                assert response.status_code == 201, (route, shown, response.text)
    # Almost everything above is refused; what was accepted can be read back.
    assert outcomes.get(400, 0) > outcomes.get(201, 0)
    listing = caller.get(f"{DATASETS}?limit=100")
    assert listing.status_code == 200, listing.text[:300]
    for dataset_id in listing.json():
        assert caller.get(f"{DATASETS}/{dataset_id}").status_code == 200


# What either metadata database cannot store is refused up front, the same way on both.


def test_deeply_nested_json_is_a_coded_400(caller: Caller) -> None:
    depth = 100_000
    response = caller.post(DATASETS, content=b"[" * depth + b"]" * depth, headers=JSON)
    assert_problem(response, 400)


def test_accepted_nested_documents_can_still_be_listed(caller: Caller) -> None:
    depth = 300
    content = b'{"name":"deep","schemaRef":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    created = caller.post(DATASETS, content=content, headers=JSON)
    assert created.status_code in (201, 400), created.text[:300]
    listing = caller.get(DATASETS)
    assert listing.status_code == 200, listing.text[:300]
    assert count(caller, DATASETS) == (1 if created.status_code == 201 else 0)


def test_nan_and_infinity_literals_are_refused(caller: Caller) -> None:
    dataset_id = created_id(caller.post(DATASETS, json=dataset()))
    body = json.dumps(target(dataset_id)).replace('"params"', '"data": {"v": NaN}, "params"', 1)
    assert "NaN" in body
    for content in (body, body.replace("NaN", "Infinity"), body.replace("NaN", "-Infinity")):
        response = caller.post(TARGETS, content=content.encode(), headers=JSON)
        assert_problem(response, 400)
    assert count(caller, TARGETS) == 0


def test_text_postgresql_cannot_store_is_refused_on_both_databases(caller: Caller) -> None:
    bodies = [
        b'{"name": "nul\\u0000name"}',
        b'{"name": "x", "description": "nul\\u0000"}',
        b'{"name": "x", "schemaRef": {"a": "\\u0000"}}',
        b'{"name": "x", "schemaRef": {"a": "\\ud800"}}',
        b'{"name": "x", "schemaRef": {"\\udfff": 1}}',
    ]
    for content in bodies:
        assert_problem(caller.post(DATASETS, content=content, headers=JSON), 400)
    assert count(caller, DATASETS) == 0
