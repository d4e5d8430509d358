"""Separate `sluice worker` processes that crash or race, on PostgreSQL metadata.

The API is `sluice serve --no-workers --no-demo`; runs are executed only by `sluice worker`
processes started and SIGKILLed by the tests. The metadata database is PostgreSQL, because
that is the deployment separate worker processes are for (DESIGN section 1, scaled out): the
claim is the `FOR UPDATE SKIP LOCKED` statement and the API, the workers and the test all
see one database server, as on several machines. (The embedded SQLite file serves one
`sluice serve` process; its claim path is covered by the engine tests.)

Each scenario runs once in a module fixture that stops its workers before returning what it
observed; the tests then assert on the observations.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from e2e_flows import commits, create_run, delta_version, postgres_table_flow, read_table
from gated_source import GatedSource, gated_source
from processes import (
    Processes,
    ServerProcess,
    await_run,
    metadata_database,
    pg_query,
    provision_client,
    scaled_out_env,
    wait_for,
)

from sluice.client import SluiceClient, run_status

pytestmark = pytest.mark.e2e

ROWS = 400_000
BASE = datetime(2024, 5, 1, tzinfo=UTC)
BASE_EPOCH = int(BASE.timestamp())
STEP_SECONDS = 2  # row g is updated at BASE + 2g s: 400k rows over ~9.3 days
DAY, HOUR = 86_400, 3_600
LEASE_SECONDS = 3
# The gated view blocks its reader at this row while the test holds the gate: past the
# first ~16 MB COPY batch (~270k rows of this table), so the run is visibly moving data.
GATE_ROW = 380_000


@dataclass(frozen=True)
class Cluster:
    server: ServerProcess
    env: dict[str, str]
    credentials: Path
    metadata_url: str

    def client(self) -> SluiceClient:
        return SluiceClient.from_credentials_file(self.credentials, self.server.url, timeout=60)

    def worker_env(self, **settings: str) -> dict[str, str]:
        return {**self.env, **{f"SLUICE_{k.upper()}": v for k, v in settings.items()}}

    def run_row(self, run_id: str) -> dict[str, Any]:
        """The run's row in the metadata database (attempts, lease, holder)."""
        dsn = self.metadata_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT status, attempt, claimed_by, lease_expires_at, committed_version "
                "FROM runs WHERE id = %s", [run_id]).fetchone()
        assert row is not None
        keys = ("status", "attempt", "claimed_by", "lease_expires_at", "committed_version")
        return dict(zip(keys, row, strict=True))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("cluster")
    with metadata_database() as url, Processes(workdir) as processes:
        env = scaled_out_env(workdir / "data", url, lease_seconds=str(LEASE_SECONDS))
        server = processes.serve(env, "--no-workers", "--no-demo")
        credentials = provision_client(env, workdir / "credentials.json")
        yield Cluster(server, env, credentials, url)


@pytest.fixture(scope="module")
def source() -> Iterator[GatedSource]:
    """The table, and its view whose read (not the window's count that comes before it, for
    reconciliation) waits at GATE_ROW while the test holds the gate."""
    updated_at = f"timestamptz '{BASE.isoformat()}' + g * interval '{STEP_SECONDS} seconds'"
    with gated_source("e2e_crash", ROWS, updated_at, GATE_ROW, gate_the_count=False) as created:
        yield created


def rows_in(table: str, start: int, end: int) -> tuple[int, int]:
    """(count, sum of ids) of the source rows whose updated_at lies in [start, end)."""
    ((count, id_sum),) = pg_query(
        f"SELECT count(*), coalesce(sum(id), 0) FROM {table} "
        "WHERE updated_at >= to_timestamp(%s) AND updated_at < to_timestamp(%s)", [start, end])
    return int(count), int(id_sum)


def dataset_rows(cluster: Cluster, dataset_id: str) -> pa.Table:
    return read_table(cluster.server.data_dir, dataset_id, ["id", "_sluice_run_id"])


def assert_once(rows: pa.Table, expected: tuple[int, int]) -> None:
    """Every expected row once: same count, no duplicate id, same sum of ids."""
    count, id_sum = expected
    assert rows.num_rows == count
    assert pc.count_distinct(rows["id"]).as_py() == count
    assert pc.sum(rows["id"]).as_py() == id_sum


# -- SIGKILL while the run moves data -----------------------------------------------------


@pytest.fixture(scope="module")
def killed_mid_run(cluster: Cluster, source: GatedSource,
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    window = (BASE_EPOCH, BASE_EPOCH + 10 * DAY)  # the whole table
    with cluster.client() as client, Processes(tmp_path_factory.mktemp("mid_run")) as workers:
        flow = postgres_table_flow(client, source.gated_view)
        gate = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                               autocommit=True)
        try:
            gate.execute("SELECT pg_advisory_lock(%s)", [source.gate_key])
            run_id = create_run(client, flow.flow_id, *window, delta_column="updated_at")
            first = workers.worker(cluster.worker_env(), "--workers", "1")

            def moving() -> dict[str, Any] | None:
                # In progress, its read open and held at the gate (mid-read, before any
                # commit): the run's COPY waits on the advisory lock the test holds.
                run = client.get_item(f"runs/{run_id}")
                reading = pg_query(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' "
                    "AND query LIKE %s", [f"COPY (%{source.gated_view}%"])
                return run if run_status(run) == "inProgress" and reading[0][0] > 0 else None

            in_progress = wait_for("the run to move data", moving, [cluster.server, first])
            held = cluster.run_row(run_id)
            lease_left_ms = held["lease_expires_at"] - time.time() * 1000
            first.kill()
            at_kill = client.get_item(f"runs/{run_id}")
        finally:
            gate.close()  # opens the gate for the next attempt
        second = workers.worker(cluster.worker_env(), "--workers", "1")
        ended = await_run(client, run_id, [cluster.server, second])
    return {
        "run_id": run_id, "window": window, "dataset_id": flow.dataset_id,
        "in_progress": in_progress, "held": held, "lease_left_ms": lease_left_ms,
        "status_at_kill": run_status(at_kill), "first_exit": first.process.returncode,
        "second_pid": second.process.pid, "ended": ended, "row": cluster.run_row(run_id),
    }


def test_sigkill_mid_run_then_a_new_worker_takes_over_and_writes_the_window_once(
    cluster: Cluster, source: GatedSource, killed_mid_run: dict[str, Any]
) -> None:
    observed = killed_mid_run
    assert observed["first_exit"] == -signal.SIGKILL
    seen = observed["in_progress"]["metrics"]["recordSummary"].get("inputRecordCount", 0)
    assert seen < ROWS  # killed while moving data (its read open, held at the gate) ...
    assert observed["status_at_kill"] == "inProgress"  # ... before anything was recorded
    ended = observed["ended"]
    assert run_status(ended) == "success", ended["metrics"]
    assert ended["metrics"]["recordSummary"]["outputRecordCount"] == ROWS
    # The second worker's attempt is the one that finished it.
    assert observed["row"]["attempt"] == 2
    assert f":{observed['second_pid']}:" in observed["row"]["claimed_by"]
    # The killed attempt committed nothing: one commit, the run's.
    history = commits(cluster.server.data_dir, observed["dataset_id"])
    assert [c.get("sluice.runId") for c in history] == [observed["run_id"]]
    assert delta_version(cluster.server.data_dir, observed["dataset_id"]) == 0
    assert_once(dataset_rows(cluster, observed["dataset_id"]),
                rows_in(source.table, *observed["window"]))


def test_a_claim_lease_lasts_sluice_lease_seconds(killed_mid_run: dict[str, Any]) -> None:
    # A claim stamps now + lease and each heartbeat renews it, so a held lease never has
    # more than SLUICE_LEASE_SECONDS left (one second of slack for the two clocks' reads).
    assert killed_mid_run["lease_left_ms"] <= (LEASE_SECONDS + 1) * 1000, killed_mid_run["held"]


# -- SIGKILL right after the Delta commit -------------------------------------------------


@pytest.fixture(scope="module")
def killed_after_commit(cluster: Cluster, source: GatedSource,
                        tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    window = (BASE_EPOCH, BASE_EPOCH + DAY)
    with cluster.client() as client, Processes(tmp_path_factory.mktemp("commit")) as workers:
        flow = postgres_table_flow(client, source.table)
        doomed = workers.killed_after_commit_worker(cluster.worker_env(), "--workers", "1")
        run_id = create_run(client, flow.flow_id, *window, delta_column="updated_at")
        wait_for("the faulty worker to die after its commit",
                 lambda: True if not doomed.alive() else None, [cluster.server], timeout=180)
        committed = commits(cluster.server.data_dir, flow.dataset_id)
        before = client.get_item(f"runs/{run_id}")
        healthy = workers.worker(cluster.worker_env(), "--workers", "1")
        ended = await_run(client, run_id, [cluster.server, healthy])
    return {
        "run_id": run_id, "window": window, "dataset_id": flow.dataset_id,
        "doomed_exit": doomed.process.returncode, "committed": committed,
        "status_before": run_status(before), "ended": ended, "row": cluster.run_row(run_id),
    }


def test_sigkill_after_commit_is_recognised_and_not_written_again(
    cluster: Cluster, source: GatedSource, killed_after_commit: dict[str, Any]
) -> None:
    observed = killed_after_commit
    assert observed["doomed_exit"] == -signal.SIGKILL
    # The dead worker's commit is in the table, but the run was not recorded.
    assert [c.get("sluice.runId") for c in observed["committed"]] == [observed["run_id"]]
    assert observed["status_before"] == "inProgress"
    ended = observed["ended"]
    assert run_status(ended) == "success", ended["metrics"]
    assert observed["row"]["attempt"] == 2
    # The second attempt wrote nothing: still the one commit, at version 0 ...
    assert delta_version(cluster.server.data_dir, observed["dataset_id"]) == 0
    assert len(commits(cluster.server.data_dir, observed["dataset_id"])) == 1
    assert_once(dataset_rows(cluster, observed["dataset_id"]),
                rows_in(source.table, *observed["window"]))
    # ... and the run names it.
    promotion = next(a for a in ended["activities"] if a["id"] == "promotionActivity")
    assert promotion["statusSummary"]["extensions"] == {
        "dataSetId": observed["dataset_id"], "deltaVersion": 0}
    assert promotion["targetInfo"][0]["reference"] == {"type": "DeltaVersion", "ids": [0]}
    assert observed["row"]["committed_version"] == 0


def test_a_run_recovered_after_its_commit_reports_the_committed_records(
    source: GatedSource, killed_after_commit: dict[str, Any]
) -> None:
    expected, _ = rows_in(source.table, *killed_after_commit["window"])
    records = killed_after_commit["ended"]["metrics"]["recordSummary"]
    assert records["outputRecordCount"] == expected, records
    promotion = next(a for a in killed_after_commit["ended"]["activities"]
                     if a["id"] == "promotionActivity")
    assert promotion["recordSummary"]["outputRecordCount"] == expected, promotion


# -- Two worker processes racing for 20 windows -------------------------------------------


@pytest.fixture(scope="module")
def raced(cluster: Cluster, source: GatedSource,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    start = BASE_EPOCH + 2 * DAY
    windows = [(start + k * HOUR, start + (k + 1) * HOUR) for k in range(20)]
    with cluster.client() as client, Processes(tmp_path_factory.mktemp("race")) as workers:
        flow = postgres_table_flow(client, source.table)
        racers = workers.workers(2, cluster.worker_env(), "--workers", "2")
        runs = [create_run(client, flow.flow_id, *w, delta_column="updated_at")
                for w in windows]
        ended = [await_run(client, run_id, [cluster.server, *racers]) for run_id in runs]
    return {"windows": windows, "runs": runs, "ended": ended, "dataset_id": flow.dataset_id,
            "rows": {r: cluster.run_row(r) for r in runs}}


def test_two_worker_processes_racing_run_each_window_exactly_once(
    cluster: Cluster, source: GatedSource, raced: dict[str, Any]
) -> None:
    runs, windows = raced["runs"], raced["windows"]
    for run in raced["ended"]:
        assert run_status(run) == "success", run["metrics"]
    history = commits(cluster.server.data_dir, raced["dataset_id"])
    # One commit per run, no run committed twice: versions 0..19.
    assert sorted(str(c.get("sluice.runId")) for c in history) == sorted(runs)
    assert [c["version"] for c in history] == list(range(len(runs)))
    assert delta_version(cluster.server.data_dir, raced["dataset_id"]) == len(runs) - 1
    rows = dataset_rows(cluster, raced["dataset_id"])
    assert_once(rows, rows_in(source.table, windows[0][0], windows[-1][1]))
    for run_id, window in zip(runs, windows, strict=True):
        mine = rows.filter(pc.equal(rows["_sluice_run_id"], run_id))
        assert (mine.num_rows, pc.sum(mine["id"]).as_py() or 0) == rows_in(source.table, *window)


def test_racing_runs_each_name_their_own_delta_version(
    cluster: Cluster, raced: dict[str, Any]
) -> None:
    version_of = {c.get("sluice.runId"): c["version"]
                  for c in commits(cluster.server.data_dir, raced["dataset_id"])}
    recorded = {r: raced["rows"][r]["committed_version"] for r in raced["runs"]}
    named = {run["id"]: next(a for a in run["activities"] if a["id"] == "promotionActivity")[
        "statusSummary"]["extensions"]["deltaVersion"] for run in raced["ended"]}
    assert recorded == version_of
    assert named == version_of
