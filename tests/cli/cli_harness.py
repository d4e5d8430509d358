"""The CLI under test, run in-process with stdout and stderr kept apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from live_server import LiveServer
from typer.testing import CliRunner

from sluice.cli.main import app
from sluice.cli.output import console, err_console


@dataclass
class Cli:
    runner: CliRunner

    def run(self, *args: str) -> Any:
        # A terminal as wide as a desktop one, whatever the test process has (without one,
        # Rich folds tables at 80 columns, or at the COLUMNS it saw at import).
        widths = console.width, err_console.width
        console.width = err_console.width = 160
        try:
            return self.runner.invoke(app, list(args), catch_exceptions=False)
        finally:
            console.width, err_console.width = widths

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--output", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def remote_cli(server: LiveServer, **env: str) -> Cli:
    """The CLI as a client of the live server (its data dir and URL), plus the given
    environment."""
    return Cli(CliRunner(env={"SLUICE_DATA_DIR": str(server.settings.data_dir),
                              "SLUICE_URL": server.url, **env}))
