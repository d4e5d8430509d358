"""Base connections over HTTP: create, read masked, list, patch with If-Match, test, delete."""

from __future__ import annotations

from pathlib import Path

from support.api_bodies import (
    FS,
    SECRET,
    created_id,
    postgres_connection,
    sqlite_connection,
    sqlite_file,
    table_source,
)
from support.callers import Caller, error_code


def test_create_returns_201_with_id_etag_and_location(caller: Caller) -> None:
    response = caller.post(f"{FS}/connections", json=postgres_connection())
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "etag"}
    assert body["etag"].startswith('"') and body["etag"].endswith('"')
    assert response.headers["location"] == f"{FS}/connections/{body['id']}"


def test_get_returns_items_envelope_with_system_fields_and_masked_secret(caller: Caller) -> None:
    connection_id = created_id(caller.post(f"{FS}/connections", json=postgres_connection()))
    response = caller.get(f"{FS}/connections/{connection_id}")
    assert response.status_code == 200
    assert SECRET not in response.text
    item = response.json()["items"][0]
    for field in (
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdClient",
        "updatedClient",
        "sandboxId",
        "sandboxName",
        "imsOrgId",
        "etag",
        "version",
    ):
        assert field in item, field
    assert item["imsOrgId"] == caller.org_id
    assert item["sandboxName"] == "prod"
    assert item["createdClient"] == caller.client_id
    assert item["auth"]["params"]["password"] == "********"
    assert item["auth"]["params"]["host"] == "127.0.0.1"
    assert item["state"] == "enabled"


def test_secret_never_appears_in_list(caller: Caller) -> None:
    created_id(caller.post(f"{FS}/connections", json=postgres_connection()))
    response = caller.get(f"{FS}/connections")
    assert response.status_code == 200
    assert SECRET not in response.text
    assert len(response.json()["items"]) == 1


def test_unknown_spec_is_1413(caller: Caller) -> None:
    body = postgres_connection()
    body["connectionSpec"]["id"] = "00000000-0000-0000-0000-000000000000"
    response = caller.post(f"{FS}/connections", json=body)
    assert response.status_code == 400
    assert error_code(response) == "FLOW-1413-400"


def test_invalid_auth_params_do_not_echo_secret(caller: Caller) -> None:
    body = postgres_connection()
    body["auth"]["params"]["port"] = "not-a-port"
    response = caller.post(f"{FS}/connections", json=body)
    assert response.status_code == 400
    assert "port" in response.json()["report"]["detailed-message"]
    assert SECRET not in response.text
    assert caller.get(f"{FS}/connections?count=true").json() == {"count": 0}


def test_patch_requires_if_match_and_current_etag(caller: Caller) -> None:
    created = caller.post(f"{FS}/connections", json=postgres_connection()).json()
    patch = [{"op": "replace", "path": "/name", "value": "renamed"}]
    missing = caller.patch(f"{FS}/connections/{created['id']}", json=patch)
    assert missing.status_code == 400 and error_code(missing) == "FLOW-1403-400", missing.text
    stale = caller.patch(
        f"{FS}/connections/{created['id']}", json=patch, headers={"If-Match": '"stale"'}
    )
    assert stale.status_code == 412 and error_code(stale) == "FLOW-1404-412"
    ok = caller.patch(
        f"{FS}/connections/{created['id']}", json=patch, headers={"If-Match": created["etag"]}
    )
    assert ok.status_code == 200
    assert ok.json()["etag"] != created["etag"]
    item = caller.get(f"{FS}/connections/{created['id']}").json()["items"][0]
    assert item["name"] == "renamed"
    assert item["etag"] == ok.json()["etag"]
    assert item["updatedAt"] > item["createdAt"] or item["updatedAt"] >= item["createdAt"]


def test_patch_keeps_secret_unless_replaced(caller: Caller, app_client, settings) -> None:  # type: ignore[no-untyped-def]
    created = caller.post(f"{FS}/connections", json=postgres_connection()).json()
    ok = caller.patch(
        f"{FS}/connections/{created['id']}",
        json=[{"op": "replace", "path": "/auth/params/host", "value": "localhost"}],
        headers={"If-Match": created["etag"]},
    )
    assert ok.status_code == 200, ok.text
    test = caller.get(f"{FS}/connections/{created['id']}/test")
    # trust auth accepts any password: the stored (unmasked) one reaches the driver intact.
    assert test.json()["result"] is True, test.text
    replaced = caller.patch(
        f"{FS}/connections/{created['id']}",
        json=[{"op": "replace", "path": "/auth/params/port", "value": 1}],
        headers={"If-Match": ok.json()["etag"]},
    )
    assert replaced.status_code == 200
    failed = caller.get(f"{FS}/connections/{created['id']}/test").json()
    assert failed["result"] is False
    assert SECRET not in failed["message"]


def test_patch_of_connection_spec_is_1414_and_bad_op_is_1434(caller: Caller) -> None:
    created = caller.post(f"{FS}/connections", json=postgres_connection()).json()
    spec = caller.patch(
        f"{FS}/connections/{created['id']}",
        json=[{"op": "replace", "path": "/connectionSpec/id", "value": "x"}],
        headers={"If-Match": created["etag"]},
    )
    assert error_code(spec) == "FLOW-1414-400"
    move = caller.patch(
        f"{FS}/connections/{created['id']}",
        json=[{"op": "move", "from": "/name", "path": "/description"}],
        headers={"If-Match": created["etag"]},
    )
    assert error_code(move) == "FLOW-1434-400"
    upper = caller.patch(
        f"{FS}/connections/{created['id']}",
        json=[{"op": "REPLACE", "path": "/description", "value": "d"}],
        headers={"If-Match": created["etag"]},
    )
    assert upper.status_code == 200


def test_connection_test_reports_real_result(caller: Caller, settings) -> None:  # type: ignore[no-untyped-def]
    db = sqlite_file(Path(settings.allowed_file_roots[0]))
    good = created_id(caller.post(f"{FS}/connections", json=sqlite_connection(db)))
    assert caller.get(f"{FS}/connections/{good}/test").json() == {"result": True}
    db.unlink()
    result = caller.get(f"{FS}/connections/{good}/test").json()
    assert result["result"] is False and result["message"]


def test_delete_is_204_then_404(caller: Caller) -> None:
    connection_id = created_id(caller.post(f"{FS}/connections", json=postgres_connection()))
    response = caller.delete(f"{FS}/connections/{connection_id}")
    assert response.status_code == 204 and response.content == b""
    gone = caller.get(f"{FS}/connections/{connection_id}")
    assert gone.status_code == 404 and error_code(gone) == "FLOW-1439-404"


def test_delete_connection_in_use_is_1418(caller: Caller, settings) -> None:  # type: ignore[no-untyped-def]
    db = sqlite_file(Path(settings.allowed_file_roots[0]))
    base = created_id(caller.post(f"{FS}/connections", json=sqlite_connection(db)))
    created_id(caller.post(f"{FS}/sourceConnections", json=table_source(base)))
    response = caller.delete(f"{FS}/connections/{base}")
    assert response.status_code == 400 and error_code(response) == "FLOW-1418-400"
    assert caller.get(f"{FS}/connections/{base}").status_code == 200


def test_trailing_slash_paths_work_like_the_reference(caller: Caller) -> None:
    created = caller.post(f"{FS}/connections/", json=postgres_connection()).json()
    response = caller.patch(
        f"{FS}/connections/{created['id']}/",
        json=[{"op": "replace", "path": "/name", "value": "n"}],
        headers={"If-Match": created["etag"]},
    )
    assert response.status_code == 200
