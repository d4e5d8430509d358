"""Error bodies: the reference's problem documents and its gateway errors."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.types import Message, Send

from sluice.api.json_response import JSONResponse
from sluice.domain.errors import SluiceError, VersionRequiredError

ERROR_TYPE_PREFIX = "https://ns.adobe.com/aep/errors/"


class GatewayError(Exception):
    """Auth and header failures, answered in the gateway's `{error_code, message}` style."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


# Domain errors whose wire message names an HTTP detail the layers below do not know.
_WIRE_MESSAGES: dict[type[SluiceError], str] = {
    VersionRequiredError: "The header 'If-Match' is missing in the request.",
}


def wire_message(error: SluiceError) -> str:
    """The message a problem document gives for `error`."""
    return _WIRE_MESSAGES.get(type(error), error.message)


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def problem_body(
    code: int, status: int, title: str, message: str, request_id: str, report: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": f"{ERROR_TYPE_PREFIX}FLOW-{code}-{status}",
        "title": title,
        "status": status,
        "report": {"detailed-message": message, **report, "request-id": request_id},
        "errorMessage": message,
        "errorDetails": message,
    }


class TrackedSend:
    """`send`, remembering whether the response has started (after that, no problem
    document can replace it)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


async def send_problem(send: Send, status: int, body: dict[str, Any], request_id: str) -> None:
    """A problem document sent straight on the ASGI channel, for middleware."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def problem_response(
    request: Request, code: int, status: int, title: str, message: str, **report: Any
) -> JSONResponse:
    body = problem_body(code, status, title, message, request_id_of(request), report)
    return JSONResponse(body, status_code=status, headers={"x-request-id": request_id_of(request)})


def gateway_response(request: Request, error: GatewayError) -> JSONResponse:
    return JSONResponse(
        {"error_code": error.error_code, "message": error.message},
        status_code=error.status,
        headers={"x-request-id": request_id_of(request)},
    )
