"""The caller cache: a verified client and its sandbox are reused for a few seconds; a change
made elsewhere takes effect within that time, a change made in this process at once."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from sluice.api import caller_cache
from sluice.api.caller_cache import CallerCache
from sluice.security.tokens import InvalidTokenError, TokenClaims
from sluice.store import tenants
from sluice.store.db import transaction
from sluice.store.models import ApiClient
from support.api_bodies import FS
from support.callers import Caller, error_code

FLOWS = f"{FS}/flows"
TTL = 5.0


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app_client: TestClient) -> Clock:
    clock = Clock()
    app_client.app.state.caller_cache = CallerCache(ttl_seconds=TTL, clock=clock)  # type: ignore[attr-defined]
    return clock


def _refused(response: Response) -> bool:
    return response.status_code == 401 and response.json()["error_code"] == "401013"


def test_a_client_deleted_by_another_process_is_refused_once_the_ttl_has_passed(
    caller: Caller, clock: Clock, sessions: sessionmaker[Session]
) -> None:
    assert caller.get(FLOWS).status_code == 200
    # A Core delete raises no ORM event: what this process sees of another process's change.
    with transaction(sessions) as session:
        session.execute(delete(ApiClient).where(ApiClient.id == caller.client_id))
    clock.now += TTL - 0.5
    assert caller.get(FLOWS).status_code == 200  # still cached: proof the cache is used
    clock.now += 1.0
    assert _refused(caller.get(FLOWS))
    assert _refused(caller.get(FLOWS))  # a refusal is not cached as anything else


def test_a_client_disabled_in_this_process_is_refused_at_once_and_enabled_at_once(
    caller: Caller, clock: Clock, sessions: sessionmaker[Session]
) -> None:
    assert caller.get(FLOWS).status_code == 200
    with transaction(sessions) as session:
        tenants.set_client_enabled(session, caller.client_id, False)
    assert _refused(caller.get(FLOWS))  # the clock has not moved: the change cleared it
    with transaction(sessions) as session:
        tenants.set_client_enabled(session, caller.client_id, True)
    assert caller.get(FLOWS).status_code == 200


def test_an_unknown_sandbox_is_not_cached_and_a_new_one_works_at_once(
    caller: Caller, clock: Clock
) -> None:
    dev = caller.in_sandbox("dev")
    assert error_code(dev.get(FLOWS)) == "FLOW-2101-404"
    created = caller.post(
        "/data/foundation/sandbox-management/sandboxes",
        json={"name": "dev", "title": "Dev", "type": "development"},
    )
    assert created.status_code == 201, created.text
    assert dev.get(FLOWS).status_code == 200
    assert caller.get(FLOWS).status_code == 200  # prod and dev are cached side by side


def test_an_answer_read_before_a_change_is_not_kept_after_it(
    caller: Caller, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that read the client just before another request's change committed must
    not cache what it read: the change bumps the cache's generation in between."""
    cache = CallerCache(ttl_seconds=TTL, clock=Clock())
    active_client = tenants.active_client

    def racing(session: Session, client_id: str) -> ApiClient | None:
        found = active_client(session, client_id)
        caller_cache.clear_caller_caches()  # what a commit elsewhere in the process does meanwhile
        return found

    monkeypatch.setattr(tenants, "active_client", racing)
    assert cache.load_org(sessions, caller.client_id) == caller.org_id
    assert cache.cached_org(caller.client_id) is None
    monkeypatch.setattr(tenants, "active_client", active_client)
    assert cache.load_org(sessions, caller.client_id) == caller.org_id
    assert cache.cached_org(caller.client_id) == caller.org_id


def test_a_token_is_verified_once_per_ttl_but_never_past_its_expiry() -> None:
    clock = Clock()
    cache = CallerCache(ttl_seconds=TTL, clock=clock)
    verified: list[str] = []
    later = int(time.time()) + 3600

    def verify(token: str) -> TokenClaims:
        verified.append(token)
        if token == "forged":
            raise InvalidTokenError("bad signature")
        expires = later if token == "fresh" else int(time.time()) - 1
        return TokenClaims(org_id="org", client_id="client", expires_at=expires)

    assert cache.token_claims("fresh", verify) == cache.token_claims("fresh", verify)
    assert verified == ["fresh"]
    clock.now += TTL + 1
    cache.token_claims("fresh", verify)
    assert verified == ["fresh", "fresh"]
    cache.token_claims("expired", verify)
    cache.token_claims("expired", verify)  # remembered, but past its expiry: checked again
    assert verified.count("expired") == 2
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            cache.token_claims("forged", verify)
    assert verified.count("forged") == 2
