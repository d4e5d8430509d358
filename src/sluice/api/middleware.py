"""ASGI middleware: request ids, the request body size limit and trailing slashes."""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice.api.problems import TrackedSend, problem_body, send_problem
from sluice.domain.numbers import ascii_whole_number

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class HttpMiddleware:
    """A middleware that acts on HTTP requests only: lifespan events and websockets pass
    through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RequestIdMiddleware(HttpMiddleware):
    """Tags every request with an id (the caller's `x-request-id` if sane) and echoes it."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyTooLargeError(Exception):
    pass


class BodyLimitMiddleware(HttpMiddleware):
    """Refuses bodies over the limit, declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        size = ascii_whole_number(declared.decode("latin-1")) if declared is not None else None
        if size is not None and size > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        tracked = TrackedSend(send)
        try:
            await self.app(scope, limited_receive, tracked)
        except BodyTooLargeError:
            if not tracked.started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        request_id = str(scope.get("state", {}).get("request_id", ""))
        body: dict[str, Any] = problem_body(
            1006,
            413,
            "Payload too large",
            f"The request body exceeds the limit of {self.max_bytes} bytes.",
            request_id,
            {},
        )
        await send_problem(send, 413, body, request_id)


class TrailingSlashMiddleware(HttpMiddleware):
    """`/connections/{id}/` and `/runs/` (as the reference writes them) reach the same routes
    as the bare paths, without a redirect that curl would not follow for a POST."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
            if scope.get("raw_path"):
                scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)
