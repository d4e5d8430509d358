"""The answer to an error nobody raised on purpose: one coded problem document, one log line.

Starlette's own catch-all (an `Exception` handler) answers and then re-raises, so the server
logs the error a second time and, with the response already sent, closes the keep-alive
connection: a pooled client's next request on it fails with a reset. Caught here, below the
request-id and metrics middleware, the error ends as an ordinary 500 response instead.
"""

from __future__ import annotations

import logging

from starlette.types import Receive, Scope, Send

from sluice.api.middleware import HttpMiddleware
from sluice.api.problems import TrackedSend, problem_body, send_problem

log = logging.getLogger("sluice.api")

UNEXPECTED_MESSAGE = "An unexpected error occurred; quote the request id to the operator."


class UnexpectedErrorMiddleware(HttpMiddleware):
    """Answers an exception nobody handled with one logged `FLOW-1500-500`."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception:
            request_id = str(scope.get("state", {}).get("request_id", ""))
            log.exception(
                "unexpected error on %s %s (request id %s)",
                scope.get("method", ""),
                scope.get("path", ""),
                request_id,
            )
            if tracked.started:
                raise  # half a response is out: only closing the connection can end it
            body = problem_body(1500, 500, "Internal error", UNEXPECTED_MESSAGE, request_id, {})
            await send_problem(send, 500, body, request_id)
