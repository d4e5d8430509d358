"""The scaled-out mode over real processes, under faults (issue 11 section 4).

PostgreSQL metadata, a Celery broker, datasets on an S3-compatible store (moto), 2 API
processes, 2 schedulers (one leads) and 3 Celery workers, each process with an empty data dir
of its own. Three flows (a table flow and a file flow run on demand over 30 windows each, and a
scheduled table flow that owes 30 ticks) run while the test SIGKILLs a worker in the middle of
a run, SIGKILLs the leading scheduler, stops and restarts the broker, and delivers tasks twice.
Afterwards every run is `success`, every window's rows are in the S3 Delta tables exactly once,
no run is left in progress, and each scheduled tick has exactly one run.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from e2e_flows import (
    CATALOG,
    POSTGRES_SPEC,
    TABLE_FLOW_SPEC,
    BuiltFlow,
    create_connection,
    create_run,
    create_source_connection,
    csv_folder_flow,
    postgres_table_flow,
)
from processes import (
    Processes,
    ServerProcess,
    SluiceProcess,
    answers,
    client_for,
    metadata_database,
    pg_source,
    provision_client,
    scheduler_running,
    unique_name,
    wait_for,
    worker_running,
)

from sluice.client import Created, SluiceClient
from support.cluster import (
    ClusterSettings,
    MotoS3,
    RedisBroker,
    busy_worker_pids,
    leader_pid,
    metadata_connection,
    rabbitmq_vhost,
    run_attempts,
    send_run_ready,
)

pytestmark = pytest.mark.e2e

WINDOWS = 30
ROWS_PER_WINDOW = 10
WINDOW_SECONDS = 100
BASE = 1_700_000_000  # the on-demand flows' first window starts here
TICK_SECONDS = 15 * 60  # the scheduled flow ticks every 15 minutes (the reference's minimum)
FINAL = ("success", "failed", "cancelled")


@dataclass
class Cluster:
    """The running topology and what the test needs to reach it."""

    settings: ClusterSettings
    processes: Processes
    workdir: Path
    s3: MotoS3
    apis: list[ServerProcess] = field(default_factory=list)
    schedulers: list[SluiceProcess] = field(default_factory=list)
    workers: list[SluiceProcess] = field(default_factory=list)
    credentials: Path | None = None

    def env(self, name: str) -> dict[str, str]:
        data_dir = self.workdir / name / "data"  # empty: each process is a machine of its own
        data_dir.mkdir(parents=True)
        return self.settings.environment(data_dir, os.environ)

    def start(self, *, apis: int, schedulers: int, workers: int) -> None:
        """Every process at once, as a fleet starts (they race to build the fresh schema:
        the migrations serialize themselves); then wait until each one runs."""
        self.apis += [self.processes.start_serve(self.env(f"api-{i}"), "--no-demo",
                                                 "--no-workers", "--no-scheduler")
                      for i in range(apis)]
        self.schedulers += [self.processes.start_scheduler(self.env(f"scheduler-{i}"))
                            for i in range(schedulers)]
        for _ in range(workers):
            self.start_worker(wait=False)
        everyone = self.live()
        for api in self.apis:
            wait_for("an API process to answer", partial(answers, api.url), everyone)
        for scheduler in self.schedulers:
            wait_for("a scheduler to run", partial(scheduler_running, scheduler), everyone)
        for worker in self.workers:
            wait_for("a worker to run", partial(worker_running, worker), everyone)

    def start_worker(self, *, wait: bool = True) -> SluiceProcess:
        worker = self.processes.start_worker(self.env(f"worker-{len(self.workers)}"),
                                             "--concurrency", "2")
        self.workers.append(worker)
        if wait:
            wait_for("a worker to run", partial(worker_running, worker), [worker])
        return worker

    def live(self) -> list[SluiceProcess]:
        return [p for p in (*self.apis, *self.schedulers, *self.workers) if p.alive()]

    def client(self, index: int) -> SluiceClient:
        assert self.credentials is not None
        return client_for(self.apis[index % len(self.apis)], self.credentials)


@contextmanager
def cluster(tmp_path: Path, broker_url: str, *, apis: int, schedulers: int,
            workers: int) -> Iterator[Cluster]:
    s3 = MotoS3(tmp_path)  # stopped last: the processes use it until they stop
    s3.start()
    bucket = s3.new_bucket(f"cluster-lake-{uuid.uuid4().hex[:8]}")
    files_root = tmp_path / "shared-files"  # a folder every "machine" mounts, as NFS would
    files_root.mkdir()
    try:
        with metadata_database() as database_url, Processes(tmp_path) as processes:
            settings = ClusterSettings(
                database_url=database_url,
                broker_url=broker_url,
                lake_uri=f"s3://{bucket}/lake",
                lake_storage_options=s3.storage_options(),
                files_root=files_root,
            )
            topology = Cluster(settings, processes, tmp_path, s3)
            began = time.monotonic()
            topology.start(apis=apis, schedulers=schedulers, workers=workers)
            topology.credentials = provision_client(topology.env("admin"),
                                                    tmp_path / "credentials.json")
            print(f"cluster started in {time.monotonic() - began:.1f} s")
            yield topology
    finally:
        s3.stop()


# -- the flows ---------------------------------------------------------------------------


def table_source(name: str, starts: int, window_seconds: int) -> str:
    """A source table of `WINDOWS` windows of `ROWS_PER_WINDOW` rows from `starts`; ids are
    window * 1000 + row, so a row's window can be read off its id."""
    table = unique_name(name)
    step = window_seconds // ROWS_PER_WINDOW
    pg_source(
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, updated_at bigint NOT NULL, "
        f"note text NOT NULL);"
        f"INSERT INTO {table} SELECT w * 1000 + r, {starts} + w * {window_seconds} + r * {step},"
        f" 'row ' || w || '.' || r FROM generate_series(0, {WINDOWS - 1}) AS w, "
        f"generate_series(0, {ROWS_PER_WINDOW - 1}) AS r")
    return table


def expected_ids() -> list[int]:
    return sorted(w * 1000 + r for w in range(WINDOWS) for r in range(ROWS_PER_WINDOW))


def csv_windows(folder: Path) -> None:
    """One CSV file per window, its modification time inside the window."""
    folder.mkdir()
    for w in range(WINDOWS):
        rows = "".join(f"{w * 1000 + r},file row {w}.{r}\n" for r in range(ROWS_PER_WINDOW))
        path = folder / f"part-{w:03d}.csv"
        path.write_text("id,note\n" + rows)
        modified = BASE + w * WINDOW_SECONDS + 5
        os.utime(path, (modified, modified))


def scheduled_flow(client: SluiceClient, database_url: str, table: str, ticks_from: int
                   ) -> BuiltFlow:
    """A table flow ticking every 15 minutes whose start lies `WINDOWS` ticks in the past,
    as after a scheduler outage of seven and a half hours: the scheduler owes it 30 runs.

    The API refuses a start time in the past (1360), so the flow is created starting in an
    hour and its stored start is then moved back in the metadata database."""
    base = create_connection(client, f"pg {table}", POSTGRES_SPEC, {
        "specName": "Basic Authentication", "params": {
            "host": "127.0.0.1", "port": 5432, "database": "test",
            "username": "postgres", "password": "unused-with-trust"}})
    source = create_source_connection(client, f"source {table}", POSTGRES_SPEC, base, {
        "data": {"format": "tabular"}, "params": {"tableName": table}})
    dataset_id = Created.from_body(client.post(f"{CATALOG}/dataSets", {"name": table})).id
    target = client.post("targetConnections", {
        "name": f"{table} lake", "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"}})
    created = client.post("flows", {
        "name": table, "flowSpec": {"id": TABLE_FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [str(target["id"])],
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}],
        "scheduleParams": {"startTime": str(int(time.time()) + 3600), "frequency": "minute",
                           "interval": "15", "backfill": "false"}})
    flow_id = str(created["id"])
    with metadata_connection(database_url) as conn:
        conn.execute(
            "UPDATE flows SET doc = jsonb_set(doc, '{scheduleParams,startTime}', to_jsonb(%s)),"
            " next_tick_at = 0 WHERE id = %s", (ticks_from, flow_id))
    return BuiltFlow(flow_id, dataset_id)


# -- reading the outcome -----------------------------------------------------------------


def lake_rows(cluster_settings: ClusterSettings, s3: MotoS3, dataset_id: str) -> pa.Table:
    """The dataset's current rows, read from its Delta table in the bucket."""
    bucket, prefix = cluster_settings.lake_uri.removeprefix("s3://").split("/", 1)
    keys = s3.client().list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    (table_root,) = {k["Key"].split("/_delta_log/")[0] for k in keys
                     if f"/{dataset_id}/_delta_log/" in k["Key"]}
    table = DeltaTable(f"s3://{bucket}/{table_root}",
                       storage_options=dict(cluster_settings.lake_storage_options))
    return table.to_pyarrow_dataset().to_table(columns=["id", "_sluice_run_id"],
                                               use_threads=False)


def committing_runs(cluster_settings: ClusterSettings, s3: MotoS3, dataset_id: str
                    ) -> Counter[str]:
    """How many Delta commits each run made to the dataset (exactly once: never above 1)."""
    bucket, prefix = cluster_settings.lake_uri.removeprefix("s3://").split("/", 1)
    client = s3.client()
    found: Counter[str] = Counter()
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    for entry in listed:
        key = entry["Key"]
        if f"/{dataset_id}/_delta_log/" in key and key.endswith(".json"):
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            for line in body.splitlines():
                if '"commitInfo"' in line and '"sluice.runId"' in line:
                    run_id = line.split('"sluice.runId":"')[1].split('"')[0]
                    found[run_id] += 1
    return found


def run_states(database_url: str) -> dict[str, tuple[str, str, int | None]]:
    """Run id -> (status, flow id, tick)."""
    with metadata_connection(database_url) as conn:
        rows = conn.execute("SELECT id, status, flow_id, tick FROM runs").fetchall()
    return {str(r[0]): (str(r[1]), str(r[2]), None if r[3] is None else int(str(r[3])))
            for r in rows}


def all_final(database_url: str, expected: int) -> bool | None:
    states = run_states(database_url)
    if len(states) >= expected and all(status in FINAL for status, _f, _t in states.values()):
        return True
    return None


def kill_a_busy_worker(topology: Cluster) -> str | None:
    """SIGKILL a worker process while it holds a run; the run it held (None: none was busy
    before the deadline)."""
    deadline = time.monotonic() + 60
    pids = {worker.process.pid: worker for worker in topology.workers if worker.alive()}
    while time.monotonic() < deadline:
        for pid, run_id in busy_worker_pids(topology.settings.database_url).items():
            if pid in pids:
                pids[pid].kill()
                return run_id
        time.sleep(0.02)
    return None


def drive(topology: Cluster, faults: Callable[[Cluster, list[str]], None],
          *, flows: int) -> dict[str, Any]:
    """Create the flows and their runs, inject `faults`, wait for every run to end, and check
    the outcome; the figures for the note."""
    settings, s3 = topology.settings, topology.s3
    database_url = settings.database_url
    table = table_source("cluster_orders", BASE, WINDOW_SECONDS)
    now = int(time.time())
    # The scheduler owes exactly WINDOWS ticks for the whole test: the last one fell due a
    # minute ago and the next falls due in 14 minutes, far beyond the test's 5-minute wait.
    # (Aligning the start to a quarter hour let a boundary crossed mid-test owe one more.)
    ticks_from = now - WINDOWS * TICK_SECONDS - 60
    scheduled_table = table_source("cluster_ticks", ticks_from, TICK_SECONDS)
    folder = settings.files_root / unique_name("cluster_files")
    csv_windows(folder)
    began = time.monotonic()
    phases: dict[str, float] = {}
    try:
        with topology.client(0) as first, topology.client(1) as second:
            built = [postgres_table_flow(first, table)]
            if flows > 1:
                built.append(csv_folder_flow(second, folder, writeMode="append"))
            run_ids: list[str] = []
            for w in range(WINDOWS):
                start, end = BASE + w * WINDOW_SECONDS, BASE + (w + 1) * WINDOW_SECONDS
                # Alternate the API processes: any one may take any request.
                run_ids.append(create_run(first if w % 2 else second, built[0].flow_id,
                                          start, end, "updated_at"))
                if flows > 1:
                    run_ids.append(create_run(second if w % 2 else first, built[1].flow_id,
                                              start, end))
            ticked = scheduled_flow(first, database_url, scheduled_table, ticks_from) \
                if flows > 2 else None
            phases["created"] = time.monotonic() - began
            faults(topology, run_ids)
            phases["faults"] = time.monotonic() - began
            expected_runs = len(run_ids) + (WINDOWS if ticked else 0)
            wait_for("every run to end", lambda: all_final(database_url, expected_runs),
                     topology.live(), timeout=300)
        phases["ended"] = time.monotonic() - began
        print(f"phases: {phases}")
        states = run_states(database_url)
        assert Counter(status for status, _f, _t in states.values()) == {
            "success": expected_runs}, states
        datasets = [flow.dataset_id for flow in built]
        if ticked is not None:
            ticks = sorted(t for _s, flow_id, t in states.values() if flow_id == ticked.flow_id)
            assert ticks == list(range(1, WINDOWS + 1))  # every tick once, none missed
            datasets.append(ticked.dataset_id)
        for dataset_id in datasets:
            rows = lake_rows(settings, s3, dataset_id)
            assert sorted(rows.column("id").to_pylist()) == expected_ids(), dataset_id
            commits = committing_runs(settings, s3, dataset_id)
            assert commits and max(commits.values()) == 1, commits
        attempts = run_attempts(database_url)
        return {"runs": len(states), "taken_over": sum(a > 1 for a in attempts.values())}
    finally:
        pg_source(f"DROP TABLE IF EXISTS {table}; DROP TABLE IF EXISTS {scheduled_table}")


# -- the tests ---------------------------------------------------------------------------


def test_cluster_on_redis_survives_worker_scheduler_and_broker_faults(tmp_path: Path) -> None:
    broker = RedisBroker(tmp_path)
    broker.start()
    figures: dict[str, Any] = {}

    def faults(topology: Cluster, run_ids: list[str]) -> None:
        # A task delivered twice, for runs that may be anywhere in their life.
        for run_id in run_ids[:5]:
            send_run_ready(broker.url, run_id)
        figures["killed_run"] = kill_a_busy_worker(topology)
        topology.start_worker()  # a replacement machine, with an empty data dir
        leader = wait_for("a scheduler to lead",
                          lambda: leader_pid(topology.settings.database_url),
                          topology.live())
        (leading,) = [s for s in topology.schedulers if s.process.pid == leader]
        leading.kill()
        broker.stop()
        time.sleep(2)  # runs keep finishing meanwhile; new tasks cannot be sent
        broker.start()
        for run_id in run_ids[-5:]:
            send_run_ready(broker.url, run_id)

    try:
        with cluster(tmp_path, broker.url, apis=2, schedulers=2, workers=3) as topology:
            figures.update(drive(topology, faults, flows=3))
            # The standby takes the lead from the killed scheduler once the dead leader's
            # lease runs out (the runs may all have ended before that).
            survivors = {s.process.pid for s in topology.schedulers if s.alive()}
            wait_for("the standby scheduler to lead", lambda: leader_pid(
                topology.settings.database_url) in survivors or None, topology.live())
    finally:
        broker.stop()
    assert figures["killed_run"] is not None
    print(f"cluster on Redis: {figures}")


def test_cluster_on_rabbitmq_runs_each_window_once(tmp_path: Path) -> None:
    def faults(topology: Cluster, run_ids: list[str]) -> None:
        for run_id in run_ids[:3]:
            send_run_ready(broker_url, run_id)
        kill_a_busy_worker(topology)

    with rabbitmq_vhost() as broker_url, cluster(
        tmp_path, broker_url, apis=2, schedulers=1, workers=2
    ) as topology:
        figures = drive(topology, faults, flows=1)
    assert figures["runs"] == WINDOWS
