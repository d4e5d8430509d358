"""Idempotency keys in the store, on both databases: two transactions racing for one key
create one resource, expired keys make room and are purged."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import Tenant
from sluice.services.idempotency import remember_answer
from sluice.store import idempotency_keys, tenants
from sluice.store.db import transaction
from sluice.store.idempotency_keys import StoredAnswer
from sluice.store.models import IdempotencyKey, Org


def _answer(body: str, request_hash: str = "h1") -> StoredAnswer:
    return StoredAnswer(request_hash, 201, body, {"location": f"/things/{body}"})


def test_two_transactions_with_one_key_leave_one_resource_and_one_answer(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    results: dict[str, StoredAnswer] = {}

    def second_request() -> None:
        # As the API's request session does (sluice.api.deps.get_session): begin, commit.
        with sessions() as session:
            session.begin()
            tenants.create_org(session, "made by the second request")
            results["second"] = remember_answer(session, tenant, "k", _answer("second"))
            session.commit()

    with transaction(sessions) as session:
        tenants.create_org(session, "made by the first request")
        results["first"] = remember_answer(session, tenant, "k", _answer("first"))
        racer = threading.Thread(target=second_request)
        racer.start()
        time.sleep(0.3)  # let the second request reach the key (it waits for this commit)
    racer.join(timeout=60)
    assert not racer.is_alive()
    assert results["first"].body == results["second"].body == "first"
    with transaction(sessions) as session:
        names = set(session.execute(select(Org.name)).scalars())
        assert "made by the first request" in names
        assert "made by the second request" not in names  # rolled back with its key
        assert session.execute(select(func.count()).select_from(IdempotencyKey)).scalar() == 1


def test_an_expired_key_is_ignored_replaced_and_purged(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    with transaction(sessions) as session:
        idempotency_keys.store(session, tenant, "old", _answer("a"), now_ms=1_000, ttl_ms=500)
        idempotency_keys.store(session, tenant, "new", _answer("b"), now_ms=1_000, ttl_ms=10_000)
    with transaction(sessions) as session:
        assert idempotency_keys.find(session, tenant, "old", now_ms=1_499) is not None
        assert idempotency_keys.find(session, tenant, "old", now_ms=1_500) is None
        # A new request with the expired key stores its own answer in place of the old one.
        idempotency_keys.store(session, tenant, "old", _answer("c"), now_ms=2_000, ttl_ms=500)
        found = idempotency_keys.find(session, tenant, "old", now_ms=2_100)
        assert found is not None and found.body == "c"
    with transaction(sessions) as session:
        assert idempotency_keys.purge_expired(session, now_ms=5_000) == 1
        assert idempotency_keys.find(session, tenant, "new", now_ms=5_000) is not None
        assert idempotency_keys.purge_expired(session, now_ms=20_000) == 1
        assert session.execute(select(func.count()).select_from(IdempotencyKey)).scalar() == 0


def test_keys_belong_to_the_tenant_and_client(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    other_client = Tenant(tenant.org_id, tenant.sandbox_id, tenant.sandbox_name, "another")
    with transaction(sessions) as session:
        idempotency_keys.store(session, tenant, "k", _answer("mine"), now_ms=0, ttl_ms=10**9)
        idempotency_keys.store(session, other_client, "k", _answer("theirs"), now_ms=0,
                               ttl_ms=10**9)
    with transaction(sessions) as session:
        mine = idempotency_keys.find(session, tenant, "k", now_ms=1)
        theirs = idempotency_keys.find(session, other_client, "k", now_ms=1)
        assert mine is not None and mine.body == "mine"
        assert theirs is not None and theirs.body == "theirs"
