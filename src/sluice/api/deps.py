"""Dependencies shared by the routers: context, database session, caller identity.

Who a verified token speaks for (an enabled client of its org, and the sandbox id behind a
sandbox name) is cached per app for `CALLER_CACHE_SECONDS`, which saves every request two
queries; so is the token's signature check (the token's own expiry is still checked on every
request). The price is bounded: a client disabled or deleted by another process (`sluice
admin clients disable`, another API process) keeps working for at most that long; a change
made in this process (an ORM write to a client, an org or a sandbox) clears the cache when
it is flushed and again when it commits. Only positive answers are cached: an unknown or
disabled client and an unknown sandbox are looked up on every request.

The cheap dependencies are `async`, so that FastAPI runs them on the event loop instead of
handing each to the thread pool (a thread hop costs about as much as a query); only the
lookups a cache miss needs, the route itself and the commit go to the pool.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session, sessionmaker
from starlette.concurrency import run_in_threadpool

from sluice.api.context import AppContext
from sluice.api.problems import GatewayError
from sluice.domain.tenancy import DEFAULT_SANDBOX, Tenant
from sluice.security.tokens import InvalidTokenError, TokenClaims
from sluice.store import tenants
from sluice.store.models import ApiClient, Org, Sandbox

CALLER_CACHE_SECONDS = 5.0
# Entries are per client and per (org, sandbox name), so this is far above any real count;
# past it the cache starts over rather than grow.
_CACHE_MAX_ENTRIES = 10_000
_TENANCY_CHANGED = "sluice.tenancy_changed"


async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


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
            client = tenants.active_client(session, client_id)
            org_id = None if client is None else client.org_id
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
            tenant = tenants.tenant_for(session, org_id, client_id, sandbox_name)
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


def _tenancy_written(_mapper: Any, _connection: Any, target: object) -> None:
    # At flush, and once more at commit: a request that read the old row between the two
    # must not keep it for a whole TTL.
    clear_caller_caches()
    session = object_session(target)
    if session is not None:
        session.info[_TENANCY_CHANGED] = True


def _tenancy_committed(session: Session) -> None:
    if session.info.pop(_TENANCY_CHANGED, False):
        clear_caller_caches()


def _tenancy_rolled_back(session: Session, _previous_transaction: object) -> None:
    session.info.pop(_TENANCY_CHANGED, None)


for _model in (ApiClient, Org, Sandbox):
    event.listen(_model, "after_update", _tenancy_written)
    event.listen(_model, "after_delete", _tenancy_written)
event.listen(Session, "after_commit", _tenancy_committed)
event.listen(Session, "after_soft_rollback", _tenancy_rolled_back)


async def get_caller_cache(request: Request) -> CallerCache:
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


CallerCacheDep = Annotated[CallerCache, Depends(get_caller_cache)]


async def get_session(context: ContextDep) -> AsyncIterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error.

    Beginning is lazy (no I/O before the first statement), so it happens here on the event
    loop; the commit or rollback talks to the database and runs in the thread pool."""
    session = context.sessions()
    session.begin()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    await run_in_threadpool(_end, session, commit=True)


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


# scope="function": the transaction commits when the route returns, before the response is
# sent, so a 201 means the resource is readable by the client's very next request.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@dataclass(frozen=True)
class Caller:
    """An authenticated API client acting for its org."""

    org_id: str
    client_id: str


async def authenticate(
    context: ContextDep,
    callers: CallerCacheDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
    x_gw_ims_org_id: Annotated[str | None, Header()] = None,
) -> Caller:
    """Token, API key and org header must all be present and agree with each other."""
    if not authorization or not authorization.strip():
        raise GatewayError(403, "403010", "Oauth token is missing.")
    if not x_api_key:
        raise GatewayError(403, "403000", "Api Key is required")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(401, "401013", "Oauth token is not valid")
    try:
        claims = callers.token_claims(token.strip(), context.signer.verify)
    except InvalidTokenError:
        raise GatewayError(401, "401013", "Oauth token is not valid") from None
    if x_api_key != claims.client_id:
        raise GatewayError(403, "403003", "Api Key is invalid")
    if not x_gw_ims_org_id:
        raise GatewayError(400, "400003", "Missing header")
    if x_gw_ims_org_id != claims.org_id:
        raise GatewayError(403, "403025", "Profile is not valid")
    org_id = callers.cached_org(claims.client_id)
    if org_id is None:
        org_id = await run_in_threadpool(callers.load_org, context.sessions, claims.client_id)
    if org_id != claims.org_id:
        # Disabled or deleted since the token was issued: the token dies with it.
        raise GatewayError(401, "401013", "Oauth token is not valid")
    return Caller(org_id=claims.org_id, client_id=claims.client_id)


CallerDep = Annotated[Caller, Depends(authenticate)]


async def current_tenant(
    caller: CallerDep,
    context: ContextDep,
    callers: CallerCacheDep,
    x_sandbox_name: Annotated[str | None, Header()] = None,
) -> Tenant:
    name = (x_sandbox_name or DEFAULT_SANDBOX).strip()
    tenant = callers.cached_tenant(caller.org_id, caller.client_id, name)
    if tenant is None:
        tenant = await run_in_threadpool(
            callers.load_tenant, context.sessions, caller.org_id, caller.client_id, name
        )
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]


async def if_match_header(
    if_match: Annotated[str | None, Header(alias="if-match")] = None,
) -> str | None:
    return if_match


IfMatchDep = Annotated[str | None, Depends(if_match_header)]
