"""The real `sluice serve` process loads its run engine (the runner, pyarrow, deltalake) ahead
of the first run once runs are coming, and not before: an empty server stays light
(tests/test_lazy_imports.py), a server given a connection, holding an enabled flow at start or
seeing a flow enabled loads it in the background. Seen from outside, in the process's memory
map: deltalake's native library is mapped once the engine is loaded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_flows import create_connection, create_run, csv_folder_flow
from processes import Processes, ServerProcess, await_run, client_for, sluice_env, wait_for

from support.api_bodies import LOCAL_FILES_SPEC

pytestmark = pytest.mark.e2e

# The process's native libraries, as /proc/<pid>/maps lists them.
DELTALAKE_LIBRARY = "deltalake/_internal"
# How long a server that should stay light is watched after it answers.
QUIET_SECONDS = 3.0


def engine_loaded(server: ServerProcess) -> bool:
    maps = Path(f"/proc/{server.process.pid}/maps").read_text(encoding="utf-8")
    return DELTALAKE_LIBRARY in maps


def loaded_soon(server: ServerProcess) -> bool:
    wait_for("the engine to load", lambda: engine_loaded(server) or None, [server], timeout=60)
    return True


def stays_light(server: ServerProcess) -> bool:
    deadline = time.monotonic() + QUIET_SECONDS
    while time.monotonic() < deadline:
        if engine_loaded(server):
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder under the server's allowed root with one two-row CSV file."""
    folder = tmp_path / "files" / "orders"
    folder.mkdir(parents=True)
    (folder / "orders.csv").write_text("id,amount\n1,2.50\n2,4.00\n", encoding="utf-8")
    return folder


@pytest.fixture
def env(tmp_path: Path, folder: Path) -> dict[str, str]:
    return sluice_env(tmp_path / "data", local_file_roots=str(folder.parent))


def restarted_on_a_flow(
    processes: Processes, env: dict[str, str], folder: Path, *, disabled: bool = False
) -> tuple[ServerProcess, str]:
    """A server that made a CSV flow (then disabled it, if asked), stopped and started again on
    the same store: the new server and the flow's id."""
    first = processes.serve(env, "--no-demo")
    client = client_for(first)
    built = csv_folder_flow(client, folder)
    if disabled:
        client.post(f"flows/{built.flow_id}/action", {}, params={"op": "disable"})
    processes.stop_all()
    return processes.serve(env, "--no-demo"), built.flow_id


def test_a_server_loads_the_engine_once_a_connection_is_created(
    tmp_path: Path, folder: Path, env: dict[str, str]
) -> None:
    with Processes(tmp_path) as processes:
        server = processes.serve(env, "--no-demo")
        client = client_for(server)
        assert client.get("connections")["items"] == []
        assert stays_light(server)

        create_connection(client, "orders folder", LOCAL_FILES_SPEC, {
            "specName": "Local Folder Authentication", "params": {"rootPath": str(folder)}})

        assert loaded_soon(server)


def test_a_restarted_server_loads_the_engine_when_its_store_holds_an_enabled_flow(
    tmp_path: Path, folder: Path, env: dict[str, str]
) -> None:
    with Processes(tmp_path) as processes:
        server, flow_id = restarted_on_a_flow(processes, env, folder)

        # No request at all: the store's enabled flow is the reason.
        assert loaded_soon(server)
        # And the loaded engine runs the flow's window as the first run would have.
        client = client_for(server)
        run = await_run(client, create_run(client, flow_id, 0, 2_000_000_000), [server])
        assert run["metrics"]["recordSummary"]["outputRecordCount"] == 2


def test_a_store_whose_flows_are_all_disabled_keeps_a_restarted_server_light_until_one_is_enabled(
    tmp_path: Path, folder: Path, env: dict[str, str]
) -> None:
    with Processes(tmp_path) as processes:
        server, flow_id = restarted_on_a_flow(processes, env, folder, disabled=True)
        client = client_for(server)
        assert client.get("flows")["items"][0]["state"] == "disabled"
        assert stays_light(server)

        client.post(f"flows/{flow_id}/action", {}, params={"op": "enable"})

        assert loaded_soon(server)
