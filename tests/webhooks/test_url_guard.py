"""Webhook URLs go through the connector host guard: on create, on patch and before each post,
so a subscription cannot make Sluice post to cloud metadata or link-local addresses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from receiver import Receiver
from sqlalchemy import update
from webhook_helpers import (
    SECRET,
    WEBHOOKS,
    Caller,
    deliveries,
    flow_with_run,
    make_dispatcher,
    subscribe,
)

from sluice.api.app import create_app
from sluice.config import Settings
from sluice.engine.engine_context import EngineContext
from sluice.engine.worker import Worker
from sluice.store.models import Webhook
from support.callers import error_code, make_caller

REFUSED_URLS = [
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata endpoint"),
    ("http://[fe80::1]:8080/hook", "link-local address fe80::1"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata endpoint"),
    ("http://[::ffff:169.254.169.254]/hook", "cloud metadata endpoint"),
    ("http://0.0.0.0:8080/hook", "not a server"),
]


def body(url: str) -> dict[str, object]:
    return {"name": "ops", "url": url, "secret": SECRET, "events": ["flow_run_failed"]}


@pytest.mark.parametrize("url, reason", REFUSED_URLS)
def test_a_subscription_to_a_refused_host_is_a_coded_400(
    caller: Caller, url: str, reason: str
) -> None:
    response = caller.post(WEBHOOKS, json=body(url))
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1000-400"
    message = response.json()["report"]["detailed-message"]
    assert message.startswith("url is refused: The host ") and reason in message
    assert caller.get(WEBHOOKS).json()["items"] == []


def test_patching_to_a_link_local_url_is_refused_and_changes_nothing(caller: Caller) -> None:
    webhook_id = subscribe(caller, "http://127.0.0.1:9/hook")
    etag = caller.get(f"{WEBHOOKS}/{webhook_id}").json()["items"][0]["etag"]
    response = caller.patch(f"{WEBHOOKS}/{webhook_id}", headers={"If-Match": etag},
                            json=[{"op": "replace", "path": "/url",
                                   "value": "http://169.254.10.20/hook"}])
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1000-400"
    assert "link-local" in response.json()["report"]["detailed-message"]
    after = caller.get(f"{WEBHOOKS}/{webhook_id}").json()["items"][0]
    assert after["url"] == "http://127.0.0.1:9/hook" and after["etag"] == etag


def test_loopback_and_private_receivers_are_allowed(caller: Caller) -> None:
    for url in ("http://127.0.0.1:8080/hook", "https://10.0.0.5/hook", "http://localhost/h"):
        webhook_id = subscribe(caller, url)
        assert caller.get(f"{WEBHOOKS}/{webhook_id}").json()["items"][0]["url"] == url


@pytest.fixture
def allowing_caller(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Caller]:
    """The API of a server whose operator allows the link-local range."""
    monkeypatch.setenv("SLUICE_CONNECTOR_ALLOWED_HOSTS", "169.254.0.0/16, metadata.google.internal")
    allowing = Settings(
        data_dir=settings.data_dir, database_url=settings.database_url,
        secret_keys=settings.secret_keys, token_signing_key=settings.token_signing_key,
        local_file_roots=settings.local_file_roots,
    )
    assert allowing.connector_allowed_host_list == ("169.254.0.0/16", "metadata.google.internal")
    with TestClient(create_app(allowing), raise_server_exceptions=False) as client:
        yield make_caller(client, allowing, "Org Allowing")


def test_the_operator_allow_list_admits_a_link_local_receiver(allowing_caller: Caller) -> None:
    webhook_id = subscribe(allowing_caller, "http://169.254.10.20/hook")
    item = allowing_caller.get(f"{WEBHOOKS}/{webhook_id}").json()["items"][0]
    assert item["url"] == "http://169.254.10.20/hook"
    subscribe(allowing_caller, "http://metadata.google.internal/hook")
    # The allow list opens only what it names.
    refused = allowing_caller.post(WEBHOOKS, json=body("http://[fe80::1]/hook"))
    assert refused.status_code == 400 and error_code(refused) == "FLOW-1000-400"


def test_a_url_refused_at_delivery_time_is_a_logged_failed_attempt_and_no_post(
    caller: Caller, settings: Settings, receiver: Receiver, worker: Worker,
    engine: EngineContext,
) -> None:
    """A subscription saved while its host was acceptable (or under another allow list) is
    checked again before each post."""
    webhook_id = subscribe(caller, receiver.url, ["flow_run_started"])
    with engine.sessions.begin() as session:
        session.execute(update(Webhook).where(Webhook.id == webhook_id)
                        .values(url="http://169.254.169.254/latest/meta-data/"))
    flow_with_run(caller, settings)
    assert worker.run_once()
    assert make_dispatcher(engine).run_once() == 1

    assert receiver.requests == []
    (delivery,) = deliveries(caller, webhook_id)["items"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["lastStatusCode"] is None
    assert "refused" in delivery["lastError"] and "cloud metadata" in delivery["lastError"]
