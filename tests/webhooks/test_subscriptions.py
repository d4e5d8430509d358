"""The webhook subscription resource: CRUD like every resource, write-only secret, checks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from webhook_helpers import FS, SECRET, WEBHOOKS, Caller, created_id, subscribe

from sluice.config import Settings
from sluice.store.db import make_engine, make_session_factory
from sluice.store.models import Webhook

URL = "https://hooks.example.com/sluice"


def code_of(response: Any) -> str:
    body = response.json()
    return str(body.get("error_code") or body["type"].rsplit("/", 1)[-1])


def test_create_read_list_patch_delete(caller: Caller) -> None:
    webhook_id = subscribe(caller, URL, ["flow_run_failed"], description="pager")
    item = caller.get(f"{WEBHOOKS}/{webhook_id}").json()["items"][0]
    assert item["url"] == URL and item["events"] == ["flow_run_failed"]
    assert item["enabled"] is True and item["flowId"] is None
    assert item["description"] == "pager"
    assert item["deliveries"] == f"{WEBHOOKS}/{webhook_id}/deliveries"
    assert {"id", "etag", "createdAt", "imsOrgId", "sandboxName"} <= set(item)
    listed = caller.get(WEBHOOKS, params={"property": "enabled==true"}).json()["items"]
    assert [w["id"] for w in listed] == [webhook_id]

    patched = caller.patch(f"{WEBHOOKS}/{webhook_id}", headers={"If-Match": item["etag"]}, json=[
        {"op": "replace", "path": "/events", "value": ["flow_run_success", "flow_run_success"]},
        {"op": "replace", "path": "/enabled", "value": False},
    ])
    assert patched.status_code == 200, patched.text
    after = caller.get(f"{WEBHOOKS}/{webhook_id}").json()["items"][0]
    assert after["events"] == ["flow_run_success"] and after["enabled"] is False
    assert after["etag"] != item["etag"]

    assert caller.delete(f"{WEBHOOKS}/{webhook_id}").status_code == 204
    assert caller.get(f"{WEBHOOKS}/{webhook_id}").status_code == 404


def test_the_secret_is_never_returned_and_is_sealed_at_rest(
    caller: Caller, settings: Settings
) -> None:
    webhook_id = subscribe(caller, URL)
    reads = [
        caller.get(f"{WEBHOOKS}/{webhook_id}"),
        caller.get(WEBHOOKS),
        caller.get(f"{WEBHOOKS}/{webhook_id}/deliveries"),
    ]
    for response in reads:
        assert response.status_code == 200
        assert SECRET not in response.text
        assert all("secret" not in item for item in response.json()["items"])
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            sealed = session.scalar(select(Webhook.sealed_secret).where(Webhook.id == webhook_id))
    finally:
        engine.dispose()
    assert sealed and SECRET.encode() not in sealed


def test_patching_the_secret_replaces_it_without_showing_it(caller: Caller) -> None:
    webhook_id = subscribe(caller, URL)
    etag = caller.get(f"{WEBHOOKS}/{webhook_id}").json()["items"][0]["etag"]
    new_secret = "another-secret-of-enough-length"
    response = caller.patch(f"{WEBHOOKS}/{webhook_id}", headers={"If-Match": etag},
                            json=[{"op": "replace", "path": "/secret", "value": new_secret}])
    assert response.status_code == 200, response.text
    assert new_secret not in caller.get(f"{WEBHOOKS}/{webhook_id}").text
    etag = response.json()["etag"]
    short = caller.patch(f"{WEBHOOKS}/{webhook_id}", headers={"If-Match": etag},
                         json=[{"op": "replace", "path": "/secret", "value": "short"}])
    assert short.status_code == 400 and code_of(short) == "FLOW-1455-400"


@pytest.mark.parametrize("url", [
    "ftp://hooks.example.com/x", "file:///etc/passwd", "javascript:alert(1)", "hooks.example.com",
    "http://", "https://user:pass@hooks.example.com/x", "http://host:99999/x",
])
def test_urls_that_are_not_plain_http_are_refused(caller: Caller, url: str) -> None:
    response = caller.post(WEBHOOKS, json={"name": "x", "url": url, "secret": SECRET,
                                           "events": ["flow_run_failed"]})
    assert response.status_code == 400, response.text
    assert code_of(response) == "FLOW-1000-400"
    assert caller.get(WEBHOOKS).json()["items"] == []


@pytest.mark.parametrize("body, fragment", [
    ({"events": ["flow_run_exploded"]}, "flow_run_exploded"),
    ({"events": []}, "events"),
    ({"secret": "too-short"}, "secret"),
    ({"flowId": "00000000-0000-0000-0000-000000000000"}, "00000000-0000-0000-0000-000000000000"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_bodies_are_coded_400s(caller: Caller, body: dict[str, Any], fragment: str) -> None:
    full = {"name": "x", "url": URL, "secret": SECRET, "events": ["flow_run_failed"], **body}
    response = caller.post(WEBHOOKS, json=full)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["report"]["detailed-message"]


def test_another_tenant_sees_nothing(caller: Caller, other_caller: Caller) -> None:
    webhook_id = subscribe(caller, URL)
    assert other_caller.get(f"{WEBHOOKS}/{webhook_id}").status_code == 404
    assert other_caller.get(f"{WEBHOOKS}/{webhook_id}/deliveries").status_code == 404
    assert other_caller.get(WEBHOOKS).json()["items"] == []
    assert other_caller.delete(f"{WEBHOOKS}/{webhook_id}").status_code == 404


def test_a_flow_filter_must_name_a_flow_of_the_tenant(caller: Caller, other_caller: Caller) -> None:
    dataset = created_id(caller.post("/data/foundation/catalog/dataSets", json={"name": "d"}))
    assert dataset
    response = other_caller.post(WEBHOOKS, json={"name": "x", "url": URL, "secret": SECRET,
                                                 "events": ["flow_run_failed"],
                                                 "flowId": dataset})
    assert response.status_code == 400


def test_deliveries_of_an_unknown_webhook_are_404(caller: Caller) -> None:
    response = caller.get(f"{WEBHOOKS}/00000000-0000-0000-0000-000000000000/deliveries")
    assert response.status_code == 404 and code_of(response) == "FLOW-1439-404"
    bad_status = caller.get(f"{WEBHOOKS}/{subscribe(caller, URL)}/deliveries",
                            params={"status": "lost"})
    assert bad_status.status_code == 400


def test_the_flow_spec_offers_delay_alert_minutes(caller: Caller) -> None:
    specs = caller.get(f"{FS}/flowSpecs").json()["items"]
    for spec in specs:
        option = spec["optionSpec"]["spec"]["properties"]["delayAlertMinutes"]
        assert option["default"] == 150 and option["minimum"] == 1


def test_key_rotation_reseals_webhook_secrets(caller: Caller, settings: Settings) -> None:
    from cryptography.fernet import Fernet

    from sluice.security.encryption import SecretBox
    from sluice.services.key_rotation import rotate_all_secrets
    from sluice.store.db import transaction

    webhook_id = subscribe(caller, URL)
    assert settings.secret_keys
    old, new = settings.secret_keys, Fernet.generate_key().decode()
    engine = make_engine(settings.resolved_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            assert rotate_all_secrets(session, SecretBox((new, old))) == 1
        with make_session_factory(engine)() as session:
            sealed = session.scalar(select(Webhook.sealed_secret).where(Webhook.id == webhook_id))
    finally:
        engine.dispose()
    assert sealed is not None
    assert SecretBox((new,)).open(sealed) == {"secret": SECRET}
