"""CLI test fixtures: a private data dir in the environment and a runner that keeps stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_harness import Cli
from typer.testing import CliRunner


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SLUICE_DATA_DIR points at a fresh folder; nothing else from the environment leaks in."""
    for name in ("SLUICE_DATABASE_URL", "SLUICE_URL", "SLUICE_SECRET_KEYS",
                 "SLUICE_TOKEN_SIGNING_KEY", "SLUICE_LOCAL_FILE_ROOTS"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    monkeypatch.setenv("SLUICE_DATA_DIR", str(data))
    return data


@pytest.fixture
def cli(data_dir: Path) -> Cli:
    return Cli(CliRunner())
