"""`sluice serve --api-processes 2`: two API processes answer on one port while the serve
process keeps the engine; a run created through either API process is executed by the
serve process's worker, and stopping the server stops them all."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_flows import create_run, postgres_table_flow, read_table
from processes import (
    Processes,
    await_run,
    client_for,
    metadata_database,
    pg_query,
    pg_source,
    provision_client,
    scaled_out_env,
    source_table,
    stop,
    wait_for,
)

pytestmark = pytest.mark.e2e

BASE = 1_700_000_000
ROWS = 50


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _api_processes(pid: int) -> list[int]:
    """The serve process's children that run uvicorn servers (multiprocessing spawns them)."""
    spawned = []
    for child in _children(pid):
        try:
            command = (Path("/proc") / str(child) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.spawn" in command and b"resource_tracker" not in command:
            spawned.append(child)
    return spawned


def test_two_api_processes_serve_and_the_serve_process_runs_the_engine(
    tmp_path: Path,
) -> None:
    with source_table("e2e_api_procs") as table:
        pg_source(
            f"CREATE TABLE {table} (id bigint PRIMARY KEY, updated_at bigint NOT NULL);"
            f"INSERT INTO {table} SELECT g, {BASE} + g FROM generate_series(1, {ROWS}) AS g;"
        )
        with metadata_database() as url, Processes(tmp_path) as processes:
            env = scaled_out_env(tmp_path / "data", url)
            server = processes.serve(env, "--no-demo", "--workers", "1", "--api-processes", "2")
            api = wait_for(
                "two API processes",
                lambda: found if len(found := _api_processes(server.process.pid)) == 2 else None,
                server,
            )
            credentials = provision_client(env, tmp_path / "credentials.json")
            with client_for(server, credentials) as client:
                flow = postgres_table_flow(client, table)
                # Several requests, so that both API processes are likely to take some.
                run_ids = [
                    create_run(
                        client, flow.flow_id, BASE + i * 10, BASE + (i + 1) * 10, "updated_at"
                    )
                    for i in range(5)
                ]
                for run_id in run_ids:
                    assert (
                        await_run(client, run_id, [server])["metrics"]["statusSummary"]["status"]
                        == "success"
                    )
            ids = read_table(server.data_dir, flow.dataset_id, ["id"]).column("id").to_pylist()
            assert sorted(ids) == list(range(1, 50))  # windows [BASE, BASE + 50)
            assert "Sluice is running" in server.output()
            stop(server.process)
            assert server.process.returncode is not None
            assert all(not Path(f"/proc/{pid}").exists() for pid in api)
            assert pg_query("SELECT count(*) FROM " + table) == [(ROWS,)]
