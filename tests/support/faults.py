"""Fault-injecting targets for tests of failure paths (as dlt's dummy destination): the
real Delta writer, failing at a chosen point. Production code has no fault hooks; these
patch the writer from the outside, at its stream and at its one Delta write call.

- `fail_before_write`: the write raises before it reads a batch (nothing read, nothing lands).
- `fail_after_commit`: the commit lands, then the writer raises (a crash right after it).
- `kill_after_commit`: the same point, but the process SIGKILLs itself, as a worker dying
  there would; loaded into a worker process by `support.kill_after_commit_worker`.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sluice.lake import writer


class InjectedFault(RuntimeError):  # noqa: N818 - reads as what the test injected
    """Raised at an injected failure point (simulates a worker dying there)."""


def _raise_before(*_args: Any, **_kwargs: Any) -> None:
    raise InjectedFault("injected fault before the write")


def _after(real: Callable[..., Any], fault: Callable[[], None]) -> Callable[..., Any]:
    def write(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        fault()
        return result

    return write


def _raise_after() -> None:
    raise InjectedFault("injected fault after the commit")


@contextmanager
def fail_before_write() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        # The stream is what pulls the first batch: failing there reads nothing.
        patch.setattr(writer, "_Stream", _raise_before)
        yield


@contextmanager
def fail_after_commit() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writer, "_write", _after(writer._write, _raise_after))
        yield


def install_kill_after_commit() -> None:
    """For a whole worker process: die (SIGKILL) right after a run's Delta commit, before
    the run is recorded (the crash-recovery tests)."""
    writer._write = _after(writer._write, lambda: os.kill(os.getpid(), signal.SIGKILL))  # type: ignore[assignment]
