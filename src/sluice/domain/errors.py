"""The one root exception and the coded errors of the Flow Service.

Each error carries the reference's numeric code and the HTTP status it maps to; the API layer
turns them into problem documents (`FLOW-{code}-{status}`). Domain code never raises HTTP
errors itself.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any


class SluiceError(Exception):
    """Root of every error Sluice raises on purpose."""

    code: int = 1500
    status: int = 500
    title: str = "Internal error"

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        title: str | None = None,
        **report: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.report = report


class ConfigurationError(SluiceError):
    """The server is misconfigured (missing key, bad setting); not the caller's fault."""

    code, status, title = 1501, 500, "Configuration error"


class BadRequestError(SluiceError):
    """The request is malformed or breaks a rule; a code from the reference says which."""

    code, status, title = 1000, 400, "Bad request"


class NotFoundError(SluiceError):
    """The resource does not exist in the caller's tenant (other tenants' look the same)."""

    code, status, title = 1439, 404, "Resource not found"

    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(
            f"The requested {resource_type} resource {resource_id} is not found. "
            "Verify the resource ID before trying again.",
            id=resource_id,
            type=resource_type,
        )


class PreconditionFailedError(SluiceError):
    """An If-Match etag no longer matches: someone changed the resource in between."""

    code, status, title = 1404, 412, "Precondition failed"


class VersionRequiredError(BadRequestError):
    """A write that must be based on a known version (an etag) came without one; the API
    says which header was missing."""

    code = 1403

    def __init__(self) -> None:
        super().__init__("A version (etag) is required to change this resource.")


class SandboxNotFoundError(SluiceError):
    """The org has no sandbox of that name."""

    code, status, title = 2101, 404, "Sandbox not found"

    def __init__(self, name: str) -> None:
        super().__init__(f"Sandbox '{name}' is not found.")


class ConflictError(SluiceError):
    """The change would break an invariant held by other resources (e.g. a flow uses it)."""

    code, status, title = 1418, 400, "Bad request"


def bad_request(code: int, message: str, **report: Any) -> BadRequestError:
    return BadRequestError(message, code=code, **report)


def refuse_unknown_fields(
    raw: Mapping[Any, Any], known: Container[str], *, code: int, where: str, hint: str
) -> None:
    """Refuse an object holding keys outside `known` (a misspelt option must not be silently
    ignored), naming them in order: `{where} has unknown field(s) a, b; {hint}`."""
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise bad_request(code, f"{where} has unknown field(s) {', '.join(unknown)}; {hint}")
