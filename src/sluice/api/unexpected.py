"""The answer to an error nobody raised on purpose: one coded problem document, one log line.

Starlette's own catch-all (an `Exception` handler) answers and then re-raises, so the server
logs the error a second time and, with the response already sent, closes the keep-alive
connection: a pooled client's next request on it fails with a reset. Caught here, below the
request-id and metrics middleware, the error ends as an ordinary 500 response instead.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sluice.api.problems import problem_body

log = logging.getLogger("sluice.api")

UNEXPECTED_MESSAGE = "An unexpected error occurred; quote the request id to the operator."


class UnexpectedErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            request_id = str(scope.get("state", {}).get("request_id", ""))
            log.exception(
                "unexpected error on %s %s (request id %s)",
                scope.get("method", ""),
                scope.get("path", ""),
                request_id,
            )
            if started:
                raise  # half a response is out: only closing the connection can end it
            await _answer(send, request_id)


async def _answer(send: Send, request_id: str) -> None:
    body = problem_body(1500, 500, "Internal error", UNEXPECTED_MESSAGE, request_id, {})
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
