"""The embedded server killed mid-run comes back and re-takes its own runs at once (not after
a full lease), and removes the Parquet files a killed attempt left unreferenced.

The lease is 10 minutes here and every wait is far shorter, so a restart that waited for
the lease would fail the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from e2e_flows import commits, create_run, csv_folder_flow, delta_path, read_dataset
from processes import Processes, await_run, client_for, sluice_env, wait_for

from sluice.client import run_status

pytestmark = pytest.mark.e2e

LONG_LEASE = "600"
RESTART_WAIT_SECONDS = 120.0


def test_a_restarted_embedded_server_finishes_its_killed_run_without_waiting_a_lease(
    tmp_path: Path, files_root: Path
) -> None:
    folder = files_root / "orders"
    folder.mkdir()
    (folder / "orders.csv").write_text("id,amount\n1,10\n2,20\n3,30\n")
    data_dir = tmp_path / "data"
    base = {"local_file_roots": str(files_root), "lease_seconds": LONG_LEASE}
    with Processes(tmp_path) as processes:
        doomed = processes.killed_after_commit_server(sluice_env(data_dir, **base), "--no-demo")
        with client_for(doomed) as client:
            flow = csv_folder_flow(client, folder)
            run_id = create_run(client, flow.flow_id, 0, int(time.time()) + 3600)
        wait_for("the server to kill itself after the commit",
                 lambda: True if not doomed.alive() else None, [], timeout=120)
        assert doomed.process.returncode == -signal.SIGKILL
        table = delta_path(data_dir, flow.dataset_id)
        committed = sorted(p for p in table.glob("*.parquet"))
        # What an attempt killed between writing and committing leaves: a staged file.
        orphan = table / "part-00000-killed-attempt-c000.snappy.parquet"
        shutil.copy(committed[0], orphan)
        past = time.time() - 3600
        os.utime(orphan, (past, past))

        restarted = processes.serve(sluice_env(data_dir, **base), "--no-demo")
        with client_for(restarted) as client:
            ended = await_run(client, run_id, [restarted], timeout=RESTART_WAIT_SECONDS)
    assert run_status(ended) == "success", ended["metrics"]
    assert not orphan.exists()
    assert sorted(table.glob("*.parquet")) == committed
    assert [c.get("sluice.runId") for c in commits(data_dir, flow.dataset_id)] == [run_id]
    ids = read_dataset(data_dir, flow.dataset_id).column("id").to_pylist()
    assert sorted(str(i) for i in ids) == ["1", "2", "3"]
