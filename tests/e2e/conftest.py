"""Fixtures of the end-to-end tests: a real `sluice serve` of the test's own, whose one
allowed local root is `files_root` (a module defines its own `server` where it needs more)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import ServerProcess, served


@pytest.fixture
def files_root(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir()
    return root


@pytest.fixture
def server(tmp_path: Path, files_root: Path) -> Iterator[ServerProcess]:
    with served(tmp_path, local_file_roots=str(files_root)) as running:
        yield running
