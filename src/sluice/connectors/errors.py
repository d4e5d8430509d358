"""The errors connectors raise: one hierarchy, where the type says both what failed (a
connection test's verdict, an explore request, a read) and whether retrying may help
(`TransientError`) or cannot (`TerminalError`), as dlt's `TerminalException` and
`TransientException` do. The engine retries a run on `TransientError` and fails it on anything
else; nobody passes a flag around.

Every message is shown to users: it must never hold a secret. `code` is the coded error string
of the run or problem document (`CONNECTOR-{number}-{status}`).
"""

from __future__ import annotations

from typing import ClassVar


class ConnectorError(Exception):
    """A connector failure with a message safe to show and a coded error string."""

    default_code: ClassVar[str] = "CONNECTOR-1001-500"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code

    @property
    def transient(self) -> bool:
        """Whether retrying the same call may succeed: decided by the type alone."""
        return isinstance(self, TransientError)


class TerminalError(ConnectorError):
    """Retrying the same call fails the same way: bad credentials, a dropped table, a corrupt
    file, a refused host."""


class TransientError(ConnectorError):
    """Retrying may succeed: a network blip, a server restart, a lock, a throttled API."""


class ConnectionTestFailed(TerminalError):  # noqa: N818 - reads as a sentence at raise sites
    """A connection test (or a create-time check of auth params) reached a clear verdict: the
    connection does not work, and why."""

    default_code = "CONNECTOR-1001-400"


class ExploreError(TerminalError):
    """Exploring failed for a reason the user can act on (unknown folder, no such schema)."""

    default_code = "CONNECTOR-1001-400"


class SourceReadError(ConnectorError):
    """Reading failed. Catch this one; raise `TerminalReadError`, `TransientReadError` or one
    of their subclasses."""


class TerminalReadError(SourceReadError, TerminalError):
    """A read that cannot succeed as it stands: missing table, bad window, refused source."""


class TransientReadError(SourceReadError, TransientError):
    """A read that failed for a reason that may pass: unreachable, busy, throttled."""


class UnreadableDataError(TerminalReadError):
    """Data that cannot be read as it claims to be: a value of another type than its column,
    a malformed file, a path out of the connection's root."""

    default_code = "CONNECTOR-2001-500"


class SourceMissingError(TerminalReadError):
    """The source itself does not exist: no such table, or a path (file, folder or glob) that
    matches nothing at all. Not a read of an empty window: that is a normal, empty run."""

    default_code = "CONNECTOR-1002-500"


class UnsupportedOperationError(TerminalReadError):
    """The connector does not do this (the data-lake target is written, never read)."""


def read_error_type(transient: bool) -> type[SourceReadError]:
    """The read error to raise once a driver's failure is classified (by SQLSTATE, errno,
    HTTP status): the classification is made once, here it becomes the type."""
    return TransientReadError if transient else TerminalReadError
