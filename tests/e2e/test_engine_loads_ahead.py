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


def folder_with_csv(tmp_path: Path) -> Path:
    folder = tmp_path / "files" / "orders"
    folder.mkdir(parents=True)
    (folder / "orders.csv").write_text("id,amount\n1,2.50\n2,4.00\n", encoding="utf-8")
    return folder


def test_a_server_loads_the_engine_once_a_connection_is_created(tmp_path: Path) -> None:
    folder = folder_with_csv(tmp_path)
    env = sluice_env(tmp_path / "data", local_file_roots=str(tmp_path / "files"))
    with Processes(tmp_path) as processes:
        server = processes.serve(env, "--no-demo")
        client = client_for(server)
        assert client.get("connections")["items"] == []
        assert stays_light(server)

        create_connection(client, "orders folder", LOCAL_FILES_SPEC, {
            "specName": "Local Folder Authentication", "params": {"rootPath": str(folder)}})

        assert loaded_soon(server)


def test_a_restarted_server_loads_the_engine_when_its_store_holds_an_enabled_flow(
    tmp_path: Path,
) -> None:
    folder = folder_with_csv(tmp_path)
    env = sluice_env(tmp_path / "data", local_file_roots=str(tmp_path / "files"))
    with Processes(tmp_path) as processes:
        first = processes.serve(env, "--no-demo")
        built = csv_folder_flow(client_for(first), folder)
        processes.stop_all()

        server = processes.serve(env, "--no-demo")

        # No request at all: the store's enabled flow is the reason.
        assert loaded_soon(server)
        # And the loaded engine runs the flow's window as the first run would have.
        client = client_for(server)
        run = await_run(client, create_run(client, built.flow_id, 0, 2_000_000_000), [server])
        assert run["metrics"]["recordSummary"]["outputRecordCount"] == 2


def test_a_store_whose_flows_are_all_disabled_keeps_a_restarted_server_light_until_one_is_enabled(
    tmp_path: Path,
) -> None:
    folder = folder_with_csv(tmp_path)
    env = sluice_env(tmp_path / "data", local_file_roots=str(tmp_path / "files"))
    with Processes(tmp_path) as processes:
        first = processes.serve(env, "--no-demo")
        built = csv_folder_flow(client_for(first), folder)
        client_for(first).post(f"flows/{built.flow_id}/action", {}, params={"op": "disable"})
        processes.stop_all()

        server = processes.serve(env, "--no-demo")
        client = client_for(server)
        assert client.get("flows")["items"][0]["state"] == "disabled"
        assert stays_light(server)

        client.post(f"flows/{built.flow_id}/action", {}, params={"op": "enable"})

        assert loaded_soon(server)
