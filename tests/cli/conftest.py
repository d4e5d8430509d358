"""CLI test fixtures: a private data dir in the environment, a runner that keeps stderr, and
a live server with the demo (one per test module) for the client-side commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_harness import Cli, remote_cli
from live_server import LiveServer, live_server
from typer.testing import CliRunner

from sluice.client import SluiceClient
from sluice.demo import setup_demo


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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("demo") / "data") as running:
        c = running.credentials
        with SluiceClient(running.url, c.org_id, c.client_id, c.client_secret) as client:
            setup_demo(client, running.settings)
        yield running


@pytest.fixture
def remote(server: LiveServer) -> Cli:
    return remote_cli(server)
