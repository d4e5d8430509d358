"""ASGI middleware: request ids, trailing slashes, unexpected errors and the body size limit,
in one layer (`RequestMiddleware`)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice.api.problems import TrackedSend, problem_body, send_problem
from sluice.domain.numbers import ascii_whole_number

log = logging.getLogger("sluice.api")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNEXPECTED_MESSAGE = "An unexpected error occurred; quote the request id to the operator."


class BodyTooLargeError(Exception):
    pass


class RequestMiddleware:
    """What Sluice does around every HTTP request, from the outside in:

    - **request id**: the caller's `x-request-id` if sane, else a new one, kept in the
      scope's state (problem documents quote it) and echoed on every response;
    - **trailing slashes**: `/connections/{id}/` and `/runs/` (as the reference writes them)
      reach the same routes as the bare paths, without a redirect that curl would not
      follow for a POST;
    - **unexpected errors**: an exception nobody handled is answered with one logged
      `FLOW-1500-500`. Starlette's own catch-all answers and then re-raises, so the server
      logs the error a second time and, with the response already sent, closes the
      keep-alive connection: a pooled client's next request on it fails with a reset;
    - **the body size limit**: a body over `max_bytes`, declared (Content-Length) or
      streamed (chunked), is refused with `FLOW-1006-413`.

    One layer, not four: every layer is a frame that each request's every `await` passes
    through again when it resumes (a tenth of `POST /runs`'s CPU went to the layers)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._handle(scope, receive, send)
        else:  # lifespan events and websockets pass through untouched
            await self.app(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        # In place, so that the layers outside (request metrics) see the route it reaches.
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope["path"] = path.rstrip("/") or "/"
            if scope.get("raw_path"):
                scope["raw_path"] = scope["path"].encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        tracked = TrackedSend(send_with_id)
        declared = headers.get(b"content-length")
        size = ascii_whole_number(declared.decode("latin-1")) if declared is not None else None
        if size is not None and size > self.max_bytes:
            await self._refuse(tracked, request_id)
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

        try:
            await self.app(scope, limited_receive, tracked)
        except BodyTooLargeError:
            if not tracked.started:
                await self._refuse(tracked, request_id)
        except Exception:
            log.exception(
                "unexpected error on %s %s (request id %s)",
                scope.get("method", ""),
                scope.get("path", ""),
                request_id,
            )
            if tracked.started:
                raise  # half a response is out: only closing the connection can end it
            body = problem_body(1500, 500, "Internal error", UNEXPECTED_MESSAGE, request_id, {})
            await send_problem(tracked, 500, body, request_id)

    async def _refuse(self, send: Send, request_id: str) -> None:
        body: dict[str, Any] = problem_body(
            1006,
            413,
            "Payload too large",
            f"The request body exceeds the limit of {self.max_bytes} bytes.",
            request_id,
            {},
        )
        await send_problem(send, 413, body, request_id)
