"""Work done once per test session even under pytest-xdist: the first process to ask runs
it, under a file lock, and leaves its JSON result for the others (as pytest-xdist's docs do
for session fixtures). xdist's `--dist loadgroup` would be the usual way to keep a group of
tests in one process, but it does not group with this pytest (9.x: the group suffix it adds
to node ids is lost), so tests sharing an expensive scenario share its result instead.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def shared_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder every process of this session sees (and only this session)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once(folder: Path, key: str, compute: Callable[[], Any]) -> Any:
    """`compute()`'s JSON result, computed by one process of the session. If it raised, every
    caller gets a failure naming the error (the work is not repeated)."""
    result = folder / f"{key}.json"
    with (folder / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            try:
                found: dict[str, Any] = {"value": compute()}
            except BaseException as error:
                found = {"error": f"{type(error).__name__}: {error}"}
            result.write_text(json.dumps(found))
        found = json.loads(result.read_text())
    if "error" in found:
        pytest.fail(f"{key} failed (in this or another test process): {found['error']}")
    return found["value"]
