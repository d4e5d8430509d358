"""Dependencies shared by the routers: context, database session, caller identity.

Who a token speaks for is resolved through the app's caller cache (`sluice.api.caller_cache`).
The cheap dependencies are `async`, so that FastAPI runs them on the event loop instead of
handing each to the thread pool (a thread hop costs about as much as a query); only the
lookups a cache miss needs, the route itself and the commit go to the pool.

FastAPI solves a dependency's own dependencies every time it appears in a route's graph
(only the call itself is cached), so these take the `Request` and nothing else where they
can: `POST /runs` solves 8 dependency nodes instead of 24. Headers are read from
`request.headers` and declared for the OpenAPI document with `reads_headers`
(`sluice.api.headers`), not as `Header()` parameters that Pydantic validates at each node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from sluice.api.app_context import AppContext
from sluice.api.caller_cache import caller_cache_of
from sluice.api.headers import reads_headers
from sluice.api.problems import GatewayError
from sluice.domain.errors import SluiceError
from sluice.domain.tenancy import DEFAULT_SANDBOX, Tenant
from sluice.security.tokens import InvalidTokenError


def context_of(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def get_context(request: Request) -> AppContext:
    return context_of(request)


ContextDep = Annotated[AppContext, Depends(get_context)]


@asynccontextmanager
async def _request_transaction(sessions: sessionmaker[Session]) -> AsyncIterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error
    (the route's exception is thrown in here through the dependency's `async with`).

    Beginning is lazy (no I/O before the first statement), so it happens here on the event
    loop; the commit or rollback talks to the database and runs in the thread pool."""
    session = sessions()
    session.begin()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    if session.in_transaction():
        await run_in_threadpool(_end, session, commit=True)
    else:
        # The route ended its transaction in its own thread (`end_read`): nothing to send.
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    async with _request_transaction(context_of(request).sessions) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """`get_session` for a route that only reads: its statements run in autocommit on
    PostgreSQL (`AppContext.read_sessions`), a BEGIN and a COMMIT round trip fewer."""
    async with _request_transaction(context_of(request).read_sessions) as session:
        yield session


def end_read(session: Session) -> None:
    """End a read-only route's transaction now, in the route's thread, which spares the
    session dependency a second thread hop for its COMMIT after the route returns."""
    session.commit()


def commit_in_route(session: Session) -> None:
    """Commit a write route's transaction now, in the route's thread, once its answer is
    made: still before the answer is sent (a 201 means the client's next request reads the
    resource), one thread hop fewer. A failed COMMIT raises from the route, and the session
    dependency rolls back as for any error."""
    session.commit()


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
# A route that only reads (a list): no statement of it may write.
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


@dataclass(frozen=True)
class Caller:
    """An authenticated API client acting for its org."""

    org_id: str
    client_id: str


@reads_headers("authorization", "x-api-key", "x-gw-ims-org-id")
async def authenticate(request: Request) -> Caller:
    """Token, API key and org header must all be present and agree with each other."""
    headers = request.headers
    authorization = headers.get("authorization")
    api_key = headers.get("x-api-key")
    org_header = headers.get("x-gw-ims-org-id")
    if not authorization or not authorization.strip():
        raise GatewayError(403, "403010", "Oauth token is missing.")
    if not api_key:
        raise GatewayError(403, "403000", "Api Key is required")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(401, "401013", "Oauth token is not valid")
    context, callers = context_of(request), caller_cache_of(request)
    try:
        claims = callers.token_claims(token.strip(), context.signer.verify)
    except InvalidTokenError:
        raise GatewayError(401, "401013", "Oauth token is not valid") from None
    if api_key != claims.client_id:
        raise GatewayError(403, "403003", "Api Key is invalid")
    if not org_header:
        raise GatewayError(400, "400003", "Missing header")
    if org_header != claims.org_id:
        raise GatewayError(403, "403025", "Profile is not valid")
    org_id = callers.cached_org(claims.client_id)
    if org_id is None:
        org_id = await run_in_threadpool(callers.load_org, context.sessions, claims.client_id)
    if org_id != claims.org_id:
        # Disabled or deleted since the token was issued: the token dies with it.
        raise GatewayError(401, "401013", "Oauth token is not valid")
    return Caller(org_id=claims.org_id, client_id=claims.client_id)


CallerDep = Annotated[Caller, Depends(authenticate)]


@reads_headers("x-sandbox-name")
async def current_tenant(request: Request, caller: CallerDep) -> Tenant:
    name = (request.headers.get("x-sandbox-name") or DEFAULT_SANDBOX).strip()
    if name == "*":
        # Cross-sandbox reads need a service token in the reference; Sluice has none.
        raise SluiceError(
            "x-sandbox-name '*' (all sandboxes) is not allowed with a user token; "
            "name one sandbox.",
            code=2111,
            status=403,
            title="Forbidden",
        )
    callers = caller_cache_of(request)
    tenant = callers.cached_tenant(caller.org_id, caller.client_id, name)
    if tenant is None:
        tenant = await run_in_threadpool(
            callers.load_tenant, context_of(request).sessions, caller.org_id, caller.client_id, name
        )
    return tenant


TenantDep = Annotated[Tenant, Depends(current_tenant)]


@reads_headers("if-match")
async def if_match_header(request: Request) -> str | None:
    return request.headers.get("if-match")


IfMatchDep = Annotated[str | None, Depends(if_match_header)]
