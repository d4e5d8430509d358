"""Lake test fixtures: a fresh table location under a temporary lake dir."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def table_uri(tmp_path: Path) -> str:
    return str(tmp_path / "lake" / "org" / "prod" / "dataset")
