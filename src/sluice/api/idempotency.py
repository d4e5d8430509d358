"""The `Idempotency-Key` header of create routes: a route opts in with one dependency and
one call, `return idempotency.respond(lambda: <create and answer>)`.

Without the header nothing changes. With it, a retry of the same request (same tenant,
client, path and body) within 24 hours gets the first answer again, byte for byte, with the
header `Idempotent-Replayed: true`; see sluice.services.idempotency for the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sluice.api.body import JsonBody
from sluice.api.deps import SessionDep, TenantDep
from sluice.api.headers import reads_headers
from sluice.domain.tenancy import Tenant
from sluice.services import idempotency as service
from sluice.services.idempotency import StoredAnswer

REPLAYED_HEADER = "Idempotent-Replayed"
# Headers that describe the body's encoding are made again by the replayed response.
_NOT_STORED = frozenset({"content-length", "content-type"})


@dataclass(frozen=True)
class IdempotentCreate:
    """One create request and its key (None: the client sent no Idempotency-Key, and the
    fingerprint, which only a key needs, is not computed)."""

    session: Session
    tenant: Tenant
    key: str | None
    fingerprint: str

    def respond(self, create: Callable[[], Response]) -> Response:
        """The first answer to this key and request if there is one; else `create()`'s,
        stored in the same transaction as what it created."""
        if self.key is None:
            return create()
        earlier = service.earlier_answer(self.session, self.tenant, self.key, self.fingerprint)
        if earlier is not None:
            return _replayed(earlier)
        response = create()
        if not 200 <= response.status_code < 300:
            return response
        answer = StoredAnswer(
            request_hash=self.fingerprint,
            status_code=response.status_code,
            body=bytes(response.body).decode(),
            headers={k: v for k, v in response.headers.items() if k not in _NOT_STORED},
        )
        stored = service.remember_answer(self.session, self.tenant, self.key, answer)
        return response if stored is answer else _replayed(stored)


def _replayed(answer: StoredAnswer) -> Response:
    return Response(
        content=answer.body,
        status_code=answer.status_code,
        headers={**answer.headers, REPLAYED_HEADER: "true"},
        media_type="application/json",
    )


@reads_headers("Idempotency-Key")
async def idempotent_create(
    request: Request, body: JsonBody, session: SessionDep, tenant: TenantDep
) -> IdempotentCreate:
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is None:
        return IdempotentCreate(session, tenant, None, "")
    key = service.checked_key(idempotency_key)
    fingerprint = service.request_fingerprint(request.method, request.url.path, body)
    return IdempotentCreate(session, tenant, key, fingerprint)


IdempotencyDep = Annotated[IdempotentCreate, Depends(idempotent_create)]
