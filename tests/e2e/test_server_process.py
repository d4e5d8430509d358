"""The real `sluice serve` process: first start, credentials, token, demo flows, no leaks."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import FLOW_SERVICE, ServerProcess, answers, free_port, stop, wait_for

pytestmark = pytest.mark.e2e

DEMO_FLOWS = {"Demo orders (SQLite)", "Demo events (CSV)"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["SLUICE_DATA_DIR"] = str(tmp_path / "data")
    stdout_path, stderr_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "sluice.cli.main", "serve", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
        )
        try:
            yield ServerProcess(process, stdout_path, stderr_path, "sluice serve",
                                f"http://127.0.0.1:{port}", tmp_path / "data")
        finally:
            stop(process)


def test_first_start_serves_the_demo_without_leaking_the_secret(server: ServerProcess) -> None:
    wait_for("the server to answer", lambda: answers(server.url), server)

    path = server.data_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = json.loads(path.read_text())
    assert set(creds) == {"orgId", "clientId", "clientSecret", "sandboxName"}
    assert creds["sandboxName"] == "prod"

    token_response = httpx.post(f"{server.url}/ims/token/v3", data={
        "grant_type": "client_credentials", "client_id": creds["clientId"],
        "client_secret": creds["clientSecret"]})
    assert token_response.status_code == 200, token_response.text
    token = token_response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] > 0
    headers = {"Authorization": f"Bearer {token['access_token']}",
               "x-api-key": creds["clientId"], "x-gw-ims-org-id": creds["orgId"],
               "x-sandbox-name": "prod"}

    specs = httpx.get(f"{server.url}{FLOW_SERVICE}/connectionSpecs", headers=headers)
    assert specs.status_code == 200, specs.text
    assert {"SQLite", "Local Files"} <= {s["name"] for s in specs.json()["items"]}

    def demo_flows() -> list[dict[str, Any]] | None:
        body = httpx.get(f"{server.url}{FLOW_SERVICE}/flows", headers=headers).json()
        return body["items"] if {f["name"] for f in body["items"]} >= DEMO_FLOWS else None

    flows = wait_for("the demo flows", demo_flows, server)
    assert all(f["scheduleParams"]["frequency"] == "once" for f in flows)
    # The demo turns the silent-failure alerts on (off by default for every other flow).
    assert all(f["options"]["expectations"]["minRowsPerRun"] == 1 for f in flows
               if f["name"] in DEMO_FLOWS)

    wait_for("the ready panel", lambda: "Sluice is running" in server.output() or None, server)
    stdout = server.stdout_path.read_text()
    assert str(path) in stdout and server.url in stdout
    if shutil.which("curl") and shutil.which("bash"):
        listed = run_pasted_commands(stdout)
        assert {f["name"] for f in listed["items"]} >= DEMO_FLOWS
    assert {f["name"] for f in run_cli_hint(stdout)} >= DEMO_FLOWS

    stop(server.process)
    assert creds["clientSecret"] not in server.output()


def run_cli_hint(stdout: str) -> list[dict[str, Any]]:
    """Run the panel's `sluice flows list ...` line (it names --url and --credentials)."""
    line = next(line for line in stdout.splitlines() if line.strip().startswith("CLI "))
    command = shlex.split(line.strip().removeprefix("CLI").strip())
    assert command[:3] == ["sluice", "flows", "list"]
    result = subprocess.run([sys.executable, "-m", "sluice.cli.main", *command[1:], "-o", "json"],
                            capture_output=True, text=True, timeout=60, check=False,
                            env={k: v for k, v in os.environ.items()
                                 if not k.startswith("SLUICE_")})
    assert result.returncode == 0, result.stderr
    flows: list[dict[str, Any]] = json.loads(result.stdout)
    return flows


def run_pasted_commands(stdout: str) -> dict[str, Any]:
    """Run the panel's curl lines as a user pasting them into a shell would."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "Get a token and list the flows" in line)
    block = []
    for line in lines[start + 1:]:
        if line.strip().startswith("─"):
            break
        block.append(line)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(block)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    listed: dict[str, Any] = json.loads(result.stdout)
    return listed
