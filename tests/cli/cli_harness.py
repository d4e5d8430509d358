"""The CLI under test, run in-process with stdout and stderr kept apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from sluice.cli.main import app


@dataclass
class Cli:
    runner: CliRunner

    def run(self, *args: str) -> Any:
        return self.runner.invoke(app, list(args), catch_exceptions=False)

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--output", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)
