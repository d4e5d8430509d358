"""Dependencies shared by the routers: context, database session, caller identity."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from sluice.api.context import AppContext
from sluice.api.problems import GatewayError
from sluice.domain.tenancy import DEFAULT_SANDBOX, Tenant
from sluice.security.tokens import InvalidTokenError
from sluice.store import tenants


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_session(context: ContextDep) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with context.sessions() as session, session.begin():
        yield session


# scope="function": the transaction commits when the route returns, before the response is
# sent, so a 201 means the resource is readable by the client's very next request.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@dataclass(frozen=True)
class Caller:
    """An authenticated API client acting for its org."""

    org_id: str
    client_id: str


def authenticate(
    context: ContextDep,
    session: SessionDep,
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
        claims = context.signer.verify(token.strip())
    except InvalidTokenError:
        raise GatewayError(401, "401013", "Oauth token is not valid") from None
    if x_api_key != claims.client_id:
        raise GatewayError(403, "403003", "Api Key is invalid")
    if not x_gw_ims_org_id:
        raise GatewayError(400, "400003", "Missing header")
    if x_gw_ims_org_id != claims.org_id:
        raise GatewayError(403, "403025", "Profile is not valid")
    client = tenants.active_client(session, claims.client_id)
    if client is None or client.org_id != claims.org_id:
        # Disabled or deleted since the token was issued: the token dies with it.
        raise GatewayError(401, "401013", "Oauth token is not valid")
    return Caller(org_id=claims.org_id, client_id=claims.client_id)


CallerDep = Annotated[Caller, Depends(authenticate)]


def current_tenant(
    caller: CallerDep,
    session: SessionDep,
    x_sandbox_name: Annotated[str | None, Header()] = None,
) -> Tenant:
    name = (x_sandbox_name or DEFAULT_SANDBOX).strip()
    return tenants.tenant_for(session, caller.org_id, caller.client_id, name)


TenantDep = Annotated[Tenant, Depends(current_tenant)]


def if_match_header(if_match: Annotated[str | None, Header(alias="if-match")] = None) -> str | None:
    return if_match


IfMatchDep = Annotated[str | None, Depends(if_match_header)]
