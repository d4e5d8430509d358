"""The one exception the client raises for an API answer that is not a success."""

from __future__ import annotations

import json

import httpx


class SluiceApiError(Exception):
    """A call failed; `code` is the problem code (`FLOW-1439-404`) or the gateway's error code."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id

    @classmethod
    def from_response(cls, response: httpx.Response) -> SluiceApiError:
        request_id = response.headers.get("x-request-id")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = response.text.strip()[:300] or response.reason_phrase
            return cls(response.status_code, f"HTTP-{response.status_code}", text, request_id)
        if "error_code" in body:  # gateway style
            return cls(
                response.status_code,
                str(body["error_code"]),
                str(body.get("message", "")),
                request_id,
            )
        report = body.get("report")
        if not isinstance(report, dict):
            report = {}
        if "type" in body:  # problem document
            code = str(body["type"]).rstrip("/").rsplit("/", 1)[-1]
            message = (
                report.get("detailed-message") or body.get("detail") or body.get("title") or ""
            )
            return cls(
                response.status_code, code, str(message), report.get("request-id") or request_id
            )
        if "error" in body:  # OAuth style (token endpoint)
            return cls(
                response.status_code,
                str(body["error"]),
                str(body.get("error_description", "")),
                request_id,
            )
        return cls(
            response.status_code, f"HTTP-{response.status_code}", json.dumps(body)[:300], request_id
        )
