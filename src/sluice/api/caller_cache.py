"""The caller cache: who a verified token speaks for, remembered for a few seconds.

Who a verified token speaks for (an enabled client of its org, and the sandbox id behind a
sandbox name) is cached per app for `CALLER_CACHE_SECONDS`, which saves every request two
queries; so is the token's signature check (the token's own expiry is still checked on every
request). The price is bounded: a client disabled or deleted by another process (`sluice
admin clients disable`, another API process) keeps working for at most that long; a change
made in this process (an ORM write to a client, an org or a sandbox) clears the cache when
it is flushed and again when it commits. Only positive answers are cached: an unknown or
disabled client and an unknown sandbox are looked up on every request.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import Tenant
from sluice.security.tokens import TokenClaims
from sluice.services import tenancy

CALLER_CACHE_SECONDS = 5.0
# Entries are per client and per (org, sandbox name), so this is far above any real count;
# past it the cache starts over rather than grow.
_CACHE_MAX_ENTRIES = 10_000


class CallerCache:
    """Verified callers for a few seconds: client id -> org id, (org id, sandbox name) ->
    sandbox id. Thread-safe; `clock` is monotonic seconds (tests pass their own)."""

    def __init__(
        self,
        ttl_seconds: float = CALLER_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, TokenClaims]] = {}
        self._clients: dict[str, tuple[float, str]] = {}
        self._sandboxes: dict[tuple[str, str], tuple[float, str]] = {}
        # Bumped by clear(): an answer read before a change is not stored after it.
        self._generation = 0
        _CACHES.add(self)

    def token_claims(self, token: str, verify: Callable[[str], TokenClaims]) -> TokenClaims:
        """`verify(token)`, or its answer of less than a TTL ago while the token has not
        expired (InvalidTokenError for a bad token, which is never cached)."""
        now = self._clock()
        with self._lock:
            hit = self._tokens.get(token)
            generation = self._generation
        if hit is not None and hit[0] > now and hit[1].expires_at > time.time():
            return hit[1]
        claims = verify(token)
        self._store(self._tokens, token, (now + self.ttl_seconds, claims), generation)
        return claims

    def cached_org(self, client_id: str) -> str | None:
        """The org of the client, if it was found enabled less than a TTL ago."""
        with self._lock:
            hit = self._clients.get(client_id)
        return hit[1] if hit is not None and hit[0] > self._clock() else None

    def load_org(self, sessions: sessionmaker[Session], client_id: str) -> str | None:
        """The org of the enabled client `client_id` from the database (then cached), or
        None when it is unknown or disabled."""
        started, generation = self._clock(), self._current_generation()
        with sessions() as session:
            org_id = tenancy.enabled_client_org(session, client_id)
        if org_id is not None:
            self._store(self._clients, client_id, (started + self.ttl_seconds, org_id), generation)
        return org_id

    def cached_tenant(self, org_id: str, client_id: str, sandbox_name: str) -> Tenant | None:
        with self._lock:
            hit = self._sandboxes.get((org_id, sandbox_name))
        if hit is None or hit[0] <= self._clock():
            return None
        return Tenant(org_id, hit[1], sandbox_name, client_id)

    def load_tenant(
        self, sessions: sessionmaker[Session], org_id: str, client_id: str, sandbox_name: str
    ) -> Tenant:
        """The tenant of a sandbox name in the org from the database (then cached); 404 for
        an unknown sandbox."""
        started, generation = self._clock(), self._current_generation()
        with sessions() as session:
            tenant = tenancy.tenant_for(session, org_id, client_id, sandbox_name)
        entry = (started + self.ttl_seconds, tenant.sandbox_id)
        self._store(self._sandboxes, (org_id, sandbox_name), entry, generation)
        return tenant

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._tokens.clear()
            self._clients.clear()
            self._sandboxes.clear()

    def _current_generation(self) -> int:
        with self._lock:
            return self._generation

    def _store(self, entries: dict[Any, Any], key: Any, value: Any, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if len(entries) >= _CACHE_MAX_ENTRIES:
                entries.clear()
            entries[key] = value


_CACHES: weakref.WeakSet[CallerCache] = weakref.WeakSet()
_CACHE_CREATION = threading.Lock()


def clear_caller_caches() -> None:
    """Forget every cached caller in this process (after a change to clients or sandboxes)."""
    for cache in list(_CACHES):
        cache.clear()


tenancy.on_tenancy_change(clear_caller_caches)


def caller_cache_of(request: Request) -> CallerCache:
    """The app's cache, made on first use (tests may set `app.state.caller_cache` first)."""
    state = request.app.state
    cache: CallerCache | None = getattr(state, "caller_cache", None)
    if cache is None:
        with _CACHE_CREATION:
            cache = getattr(state, "caller_cache", None)
            if cache is None:
                cache = CallerCache()
                state.caller_cache = cache
    return cache
