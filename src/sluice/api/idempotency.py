"""The `Idempotency-Key` header of create routes: a route opts in with one dependency and
one call, `return idempotency.respond(session, tenant, body, lambda: <create and answer>)`.

Without the header nothing changes. With it, a retry of the same request (same tenant,
client, path and body) within 24 hours gets the first answer again, byte for byte, with the
header `Idempotent-Replayed: true`; see sluice.services.idempotency for the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sluice.api.headers import reads_headers
from sluice.domain.tenancy import Tenant
from sluice.services import idempotency as service
from sluice.services.idempotency import StoredAnswer

REPLAYED_HEADER = "Idempotent-Replayed"
# Headers that describe the body's encoding are made again by the replayed response.
_NOT_STORED = frozenset({"content-length", "content-type"})


@dataclass(frozen=True)
class IdempotentCreate:
    """One create request and its `Idempotency-Key` (None: the client sent none). Made
    from the request alone: as a dependency of the body, session and tenant dependencies,
    which the route has anyway, it cost FastAPI four more dependency solves a request."""

    key: str | None
    request: Request

    def respond(
        self, session: Session, tenant: Tenant, body: Any, create: Callable[[], Response]
    ) -> Response:
        """The first answer to this key and request if there is one; else `create()`'s,
        stored in the same transaction as what it created."""
        if self.key is None:
            return create()
        key = service.checked_key(self.key)
        # The fingerprint (canonical JSON + sha256) only when a key is sent.
        fingerprint = service.request_fingerprint(self.request.method, self.request.url.path, body)
        earlier = service.earlier_answer(session, tenant, key, fingerprint)
        if earlier is not None:
            return _replayed(earlier)
        response = create()
        if not 200 <= response.status_code < 300:
            return response
        answer = StoredAnswer(
            request_hash=fingerprint,
            status_code=response.status_code,
            body=bytes(response.body).decode(),
            headers={k: v for k, v in response.headers.items() if k not in _NOT_STORED},
        )
        stored = service.remember_answer(session, tenant, key, answer)
        return response if stored is answer else _replayed(stored)


def _replayed(answer: StoredAnswer) -> Response:
    return Response(
        content=answer.body,
        status_code=answer.status_code,
        headers={**answer.headers, REPLAYED_HEADER: "true"},
        media_type="application/json",
    )


@reads_headers("Idempotency-Key")
async def idempotent_create(request: Request) -> IdempotentCreate:
    return IdempotentCreate(request.headers.get("idempotency-key"), request)


IdempotencyDep = Annotated[IdempotentCreate, Depends(idempotent_create)]
