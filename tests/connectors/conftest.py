"""Fixtures shared by the connector tests: a service context with a temp allowed root."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.connectors.contract import ConnectorContext


@pytest.fixture
def allowed_root(tmp_path: Path) -> Path:
    root = tmp_path / "allowed"
    root.mkdir()
    return root.resolve()


@pytest.fixture
def context(tmp_path: Path, allowed_root: Path) -> ConnectorContext:
    return ConnectorContext(
        allowed_file_roots=(allowed_root,),
        lake_dir=tmp_path / "lake",
        metadata_database_url="sqlite:///unused.db",
    )
