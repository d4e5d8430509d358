"""The crash-point matrix on one machine: (crash point) x (table flow, file flow) x (append,
replaceWindow, merge) x (read serially, read in 2 parts at once), over real `sluice serve`
and `sluice worker` processes.

Each crash point is one scenario (`crash_matrix.run_point`) shared by its twelve cases: it runs
once per session, in the first test process that needs it (`support.shared_results`), and
the cases assert on its outcomes. The metadata database is a PostgreSQL cluster of this
module's own, so scenario (e) can restart it; the lake is a small tmpfs, so scenario (f) can
fill it (`support.small_disk`).
Leases are 2 s: a dead worker's runs are taken over as soon as the next worker starts.

After every scenario, for every case: the seed window's and the crash window's rows are in
the Delta table exactly once, every run of the flow has ended, and every file the table's
current version names exists (a staged file no log entry names is reported, not removed:
only the embedded server's restart cleans those, tests/e2e/test_embedded_restart.py).
A parallel case's crash window was really read in 2 parts, each handing over its share of
the rows (a serial case's in none); at (a) the process died while both parts were streaming.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
import pytest
from crash_matrix import (
    CASES,
    CRASH,
    KILL_POINTS,
    PARTS,
    Case,
    Outcome,
    Rig,
    ids_in,
    run_point,
    sources,
)
from cryptography.fernet import Fernet
from processes import Processes, SluiceProcess, provision_client, sluice_env, stop, unique_name

from sluice.client import SluiceClient
from support.pg_cluster import OwnPostgres, own_postgres
from support.shared_results import once, shared_folder
from support.small_disk import fill, free, small_disk

pytestmark = pytest.mark.e2e

# One thread per case, so a scenario's runs move at once, and two idle ones that poll: in
# (e) they may take over a run whose lease ran out while the database was down.
WORKER_THREADS = str(len(CASES) + 2)
LEASE_SECONDS = 2
OUTAGE_SECONDS = LEASE_SECONDS + 1  # (e): the held leases expire during the outage


class OwnMetadata:
    def __init__(self, cluster: OwnPostgres, down_seconds: float) -> None:
        self.cluster = cluster
        self.down_seconds = down_seconds

    def runs_of(self, flow_id: str) -> list[tuple[str, str, int]]:
        with psycopg.connect(self.cluster.dsn) as conn:
            rows = conn.execute("SELECT id, status, attempt FROM runs WHERE flow_id = %s",
                                [flow_id]).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def restart(self) -> None:
        self.cluster.restart(self.down_seconds)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    workdir = tmp_path_factory.mktemp("crash_matrix")
    data_dir, files = workdir / "data", workdir / "files"
    with (own_postgres() as cluster, small_disk(data_dir / "lake") as lake,
          sources(unique_name("e2e_crash_matrix"), files / "orders") as source,
          Processes(workdir) as processes):
        env = sluice_env(data_dir, database_url=cluster.url, lease_seconds=str(LEASE_SECONDS),
                         local_file_roots=str(files),
                         secret_keys=Fernet.generate_key().decode(),
                         token_signing_key=secrets.token_urlsafe(32))
        server = processes.serve(env, "--no-workers", "--no-demo")
        credentials = provision_client(env, workdir / "credentials.json")

        def start_worker(crash: Mapping[str, str]) -> SluiceProcess:
            return processes.crash_point_worker({**env, **crash}, "--workers", WORKER_THREADS)

        def stop_worker(worker: SluiceProcess) -> None:
            stop(worker.process)

        with SluiceClient.from_credentials_file(credentials, server.url, timeout=60) as client:
            yield Rig(client=client, watched=[server], data_dir=data_dir, sources=source,
                      start_worker=start_worker, stop_worker=stop_worker,
                      metadata=OwnMetadata(cluster, OUTAGE_SECONDS), workdir=workdir,
                      fill_lake=lambda: _fill(lake), free_lake=lambda: free(lake))


def _fill(lake: Path) -> None:
    fill(lake)


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Callable[[str], dict[str, Outcome]]:
    """Each crash point's outcomes: its scenario runs once per session, in whichever test
    process first needs it (the `rig` is started only there). With CRASH_MATRIX_REPORT=<file>
    they are also appended there as JSON lines (the figures of docs/reliability.md)."""
    folder = shared_folder(tmp_path_factory)

    def scenario(point: str) -> dict[str, dict[str, Any]]:
        rig: Rig = request.getfixturevalue("rig")
        found = {name: asdict(o) for name, o in run_point(rig, point).items()}
        report = os.environ.get("CRASH_MATRIX_REPORT")
        if report:
            with Path(report).open("a") as out:
                out.writelines(json.dumps(o) + "\n" for o in found.values())
        return found

    def of(point: str) -> dict[str, Outcome]:
        found = once(folder, f"crash-matrix-{point}", lambda: scenario(point))
        return {name: Outcome(**o) for name, o in found.items()}

    return of


MATRIX = [pytest.param(case, point, id=f"{case.name}-{point}")
          for point in KILL_POINTS for case in CASES]


@pytest.mark.parametrize(("case", "point"), MATRIX)
def test_every_window_lands_once_and_every_run_ends(
    outcomes: Callable[[str], dict[str, Outcome]], case: Case, point: str
) -> None:
    outcome = outcomes(point)[case.name]
    assert (outcome.lost, outcome.duplicated, outcome.unexpected) == (0, 0, 0), outcome
    assert set(outcome.runs.values()) <= {"success", "failed", "cancelled"}, outcome
    assert outcome.referenced_missing == [], outcome
    expected = EXPECTED[point]
    assert outcome.crash_statuses == expected.statuses, outcome
    assert outcome.committed_at_crash is expected.committed_at_crash, outcome
    assert outcome.crash_worker_exit in expected.worker_exits, outcome
    if point == "b_before_commit":  # the killed attempt's staged file, named by no log entry
        assert len(outcome.unreferenced) >= 1, outcome
    if point == "d_retrigger":  # one live re-trigger per chain; none once it has landed
        assert outcome.refusals == ["FLOW-1387-400", "FLOW-1387-400"], outcome
    if point == "f_disk_full":
        assert "No space left on device" in " ".join(outcome.errors), outcome
    _assert_parts(case, point, outcome)


# The read a window of each kind is, when it is read in parts (`support.parallel_parts`).
PARALLEL_READ = {"table": "sluice-read", "file": "sluice-files"}


def _assert_parts(case: Case, point: str, outcome: Outcome) -> None:
    """The parallel cases were read in parts: some read of the crash window ran to its end in
    PARTS parts that each handed over rows, all of the window's between them (a table window
    cut on its delta column, the two files of a file window); at (a) the killed attempt's
    parts had each handed over a batch and none had ended. A serial case has no such read."""
    reads = outcome.parallel_reads
    if case.parallelism == 1:
        assert reads == [], outcome
        return
    assert {r["read"] for r in reads} == {PARALLEL_READ[case.source]}, outcome
    window_rows = len(ids_in(CRASH))
    ended = [[p["rows"] for p in r["parts"] if p["complete"]] for r in reads
             if r["when"] == "end"]
    assert any(len(rows) == PARTS and all(rows) and sum(rows) == window_rows
               for rows in ended), outcome
    if point == "a_mid_read":
        at_kill = [r["parts"] for r in reads if r["when"] == "kill"]
        assert len(at_kill) == 1, outcome
        assert len(at_kill[0]) == PARTS, outcome
        assert all(p["batches"] >= 1 and not p["complete"] for p in at_kill[0]), outcome


class Expected:
    def __init__(self, statuses: list[str], committed_at_crash: bool,
                 worker_exits: tuple[int | None, ...]) -> None:
        self.statuses = statuses
        self.committed_at_crash = committed_at_crash
        self.worker_exits = worker_exits


KILLED = (-signal.SIGKILL,)
STOPPED = (0, -signal.SIGINT, 130)  # still running at the end, stopped gracefully
EXPECTED = {
    "a_mid_read": Expected(["success"], False, KILLED),
    "b_before_commit": Expected(["success"], False, KILLED),
    "c_after_commit": Expected(["success"], True, KILLED),
    "d_retrigger": Expected(["failed", "success"], True, KILLED),
    "e_metadata_restart": Expected(["success"], False, STOPPED),
    "f_disk_full": Expected(["failed", "success"], False, STOPPED),
}
