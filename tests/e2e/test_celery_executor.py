"""The Celery executor over real processes: `sluice serve --no-workers` and `sluice worker`
with SLUICE_EXECUTOR=celery, PostgreSQL metadata, and a real broker (a Redis server of the
module's own, so the tests can count and drop its messages; RabbitMQ for one journey).

A task only says "run X is ready": every scenario checks that the database decides, i.e.
that a duplicate task, a lost task, a worker SIGKILLed mid-run and a broker that is down all
end with the run `success` and its window written once.
"""

from __future__ import annotations

import secrets
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from cryptography.fernet import Fernet
from e2e_flows import commits, create_run, postgres_table_flow
from gated_source import GatedSource, gated_source
from processes import (
    Processes,
    ServerProcess,
    SluiceProcess,
    await_run,
    metadata_database,
    pg_query,
    provision_client,
    run_cli,
    sluice_env,
    unique_name,
    wait_for,
)

from sluice.client import SluiceClient, run_status
from sluice.engine.celery_executor import TASK_NAME, celery_app
from support.redis_server import RedisServer, redis_server

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 5
ROWS = 200
BASE_EPOCH = 1_714_521_600  # 2024-05-01T00:00:00Z
WINDOW = (BASE_EPOCH, BASE_EPOCH + 86_400)
GATE_ROW = 100
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"

# Two flows whose runs fill both slots of one worker while the broker restarts.
OUTAGE_FLOWS = ("outage_a", "outage_b")

@dataclass
class Cluster:
    """An API process (which also runs the leading scheduler and its sweep) and the test's
    broker; workers are started by each test."""

    server: ServerProcess
    env: dict[str, str]
    credentials: Path
    metadata_url: str
    processes: Processes
    broker_url: str
    workers: list[SluiceProcess] = field(default_factory=list)

    def client(self) -> SluiceClient:
        return SluiceClient.from_credentials_file(self.credentials, self.server.url, timeout=30)

    def worker(self, *options: str) -> SluiceProcess:
        started = self.processes.worker(self.env, *options)
        self.workers.append(started)
        return started

    def watched(self) -> list[SluiceProcess]:
        return [self.server, *(w for w in self.workers if w.alive())]

    def run_row(self, run_id: str) -> dict[str, Any]:
        dsn = self.metadata_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT status, attempt, claimed_by, enqueued_at FROM runs WHERE id = %s",
                [run_id]).fetchone()
        assert row is not None
        return dict(zip(("status", "attempt", "claimed_by", "enqueued_at"), row, strict=True))

    def metadata(self, sql: str) -> list[tuple[Any, ...]]:
        dsn = self.metadata_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            return list(conn.execute(sql).fetchall())


def start_cluster(workdir: Path, processes: Processes, metadata_url: str, broker_url: str,
                  *serve_options: str) -> Cluster:
    env = sluice_env(workdir / "data", database_url=metadata_url,
                     secret_keys=Fernet.generate_key().decode(),
                     token_signing_key=secrets.token_urlsafe(32),
                     lease_seconds=str(LEASE_SECONDS), executor="celery",
                     broker_url=broker_url, sweep_interval_seconds="1",
                     scheduler_interval_seconds="0.5")
    server = processes.serve(env, "--no-workers", "--no-demo", *serve_options)
    credentials = provision_client(env, workdir / f"credentials-{uuid.uuid4().hex[:6]}.json")
    return Cluster(server, env, credentials, metadata_url, processes, broker_url)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, broker: RedisServer) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("celery")
    with metadata_database() as url, Processes(workdir) as processes:
        yield start_cluster(workdir, processes, url, broker.url)


# The type the tests take `source` as.
Source = GatedSource


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    """A small table (one row every 7 minutes of the window's day) and a view of it whose
    reader blocks at GATE_ROW while the test holds an advisory lock."""
    updated_at = f"to_timestamp({BASE_EPOCH}) + g * interval '7 minutes'"
    with gated_source("e2e_celery", ROWS, updated_at, GATE_ROW, gate_the_count=True) as created:
        yield created


def rows_in_window(table: str) -> int:
    ((count,),) = pg_query(
        f"SELECT count(*) FROM {table} WHERE updated_at >= to_timestamp(%s) "
        "AND updated_at < to_timestamp(%s)", list(WINDOW))
    return int(count)


def queued(broker_url: str, queue: str) -> int:
    """Messages waiting in a Redis queue (Celery's list named after the queue)."""
    return int(redis.Redis.from_url(broker_url).llen(queue))


def settled(broker_url: str, queue: str) -> bool | None:
    """True once no message waits in the queue and none is held for acknowledgement (Sluice
    turns Redis's acknowledgement emulation off: a message leaves Redis when a worker takes
    it, so Celery's `unacked` hash must stay empty)."""
    client = redis.Redis.from_url(broker_url)
    return True if client.llen(queue) == 0 and client.hlen("unacked") == 0 else None


def send_task(broker_url: str, run_id: str, queue: str) -> None:
    """Send "run X is ready" as the API does (a duplicate, for the test)."""
    app = celery_app(broker_url, sender=True)
    try:
        app.send_task(TASK_NAME, args=[run_id], queue=queue, routing_key=queue)
    finally:
        app.close()


def ended_ok(cluster: Cluster, client: SluiceClient, run_id: str) -> dict[str, Any]:
    run = await_run(client, run_id, cluster.watched(), timeout=120)
    assert run_status(run) == "success", run["metrics"]
    return run


# -- the scenarios -------------------------------------------------------------------------
# They run once, together, in one module fixture (worker processes are slow to start): a
# default worker serves `sluice`; the runs routed elsewhere wait until one worker serving
# all their queues starts. The tests then assert on what the fixture observed.


@pytest.fixture(scope="module")
def observed(cluster: Cluster, source: Source, broker: RedisServer) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    queues = {name: unique_name(name) for name in ("twice", "lost", "big", "kill")}
    with cluster.client() as client:
        flows = {name: postgres_table_flow(client, source.table, workerQueue=queue)
                 for name, queue in queues.items() if name != "kill"}
        flows["kill"] = postgres_table_flow(client, source.gated_view,
                                            workerQueue=queues["kill"])
        flows["journey"] = postgres_table_flow(client, source.table)
        # Served, like the doomed worker's flow, only by the worker routed to every queue.
        for name in OUTAGE_FLOWS:
            flows[name] = postgres_table_flow(client, source.gated_view,
                                              workerQueue=queues["kill"])
        seen["flows"] = flows

        def new_run(name: str) -> str:
            return create_run(client, flows[name].flow_id, *WINDOW, delta_column="updated_at")

        # A worker SIGKILLed while it holds a run (the source blocks it at the gate row).
        gate = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                               autocommit=True)
        try:
            gate.execute("SELECT pg_advisory_lock(%s)", [source.gate_key])
            runs = {"kill": new_run("kill")}
            doomed = cluster.worker("--queues", queues["kill"])
            wait_for("the doomed worker to hold its run",
                     lambda: f":{doomed.process.pid}:" in (
                         cluster.run_row(runs["kill"])["claimed_by"] or "") or None,
                     cluster.watched())
            doomed.kill()
            seen["doomed_exit"] = doomed.process.returncode
            seen["kill_status_at_kill"] = cluster.run_row(runs["kill"])["status"]
        finally:
            gate.close()

        default = cluster.worker()
        runs |= {name: new_run(name) for name in ("journey", "twice", "lost", "big")}
        for name in ("twice", "lost", "big"):
            wait_for(f"the {name} run's task", lambda q=queues[name]: queued(
                cluster.broker_url, q) or None, cluster.watched())
        send_task(cluster.broker_url, runs["twice"], queues["twice"])  # a duplicate
        seen["twice_queued"] = queued(cluster.broker_url, queues["twice"])
        redis.Redis.from_url(cluster.broker_url).delete(queues["lost"])  # a lost task
        seen["big_status_unserved"] = run_status(client.get_item(f"runs/{runs['big']}"))
        seen["journey"] = ended_ok(cluster, client, runs["journey"])

        routed = cluster.worker("--queues", ",".join(queues.values()), "--concurrency", "2")
        for name in ("twice", "lost", "big", "kill"):
            seen[name] = ended_ok(cluster, client, runs[name])
        wait_for("every copy of the duplicated task to be acknowledged",
                 lambda: settled(cluster.broker_url, queues["twice"]), cluster.watched())
        send_task(cluster.broker_url, runs["twice"], queues["twice"])  # late: after the end
        wait_for("the late copy to be acknowledged",
                 lambda: settled(cluster.broker_url, queues["twice"]), cluster.watched())
        seen["metrics"] = httpx.get(f"{cluster.server.url}/metrics", timeout=30).text
        seen["default_slots"] = cluster.metadata(
            f"SELECT queues, executor FROM workers WHERE id LIKE '%:{default.process.pid}:%'")

        # The broker goes down while every slot of the routed worker holds a run (at the
        # gate), and the runs end during the outage; the API still answers 201; once the
        # broker is back, the workers reconnect, the busy one included, and the sweep sends
        # the task the API could not.
        gate = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                               autocommit=True)
        try:
            gate.execute("SELECT pg_advisory_lock(%s)", [source.gate_key])
            for name in OUTAGE_FLOWS:
                runs[name] = new_run(name)
            wait_for("the routed worker to hold a run in each slot", lambda: all(
                f":{routed.process.pid}:" in (cluster.run_row(runs[name])["claimed_by"] or "")
                for name in OUTAGE_FLOWS) or None, cluster.watched())
            broker.stop()
            runs["broker_down"] = new_run("journey")
            seen["broker_down_status"] = run_status(
                client.get_item(f"runs/{runs['broker_down']}"))
            wait_for("the API's warning", lambda: True if "Could not send" in
                     cluster.server.output() else None, cluster.watched())
        finally:
            gate.close()
        for name in OUTAGE_FLOWS:
            seen[name] = ended_ok(cluster, client, runs[name])
        broker.start()
        seen["broker_down"] = ended_ok(cluster, client, runs["broker_down"])
        # Only the worker that was busy serves this queue: it must still be listening.
        runs["after_outage"] = new_run(OUTAGE_FLOWS[0])
        seen["after_outage"] = ended_ok(cluster, client, runs["after_outage"])

    seen["runs"] = runs
    seen["rows"] = {name: cluster.run_row(run_id) for name, run_id in runs.items()}
    seen["pids"] = {"default": default.process.pid, "routed": routed.process.pid,
                    "doomed": doomed.process.pid}
    seen["server_output"] = cluster.server.output()
    return seen


def test_a_run_created_through_the_api_ends_success_on_a_celery_worker(
    observed: dict[str, Any], source: Source
) -> None:
    run = observed["journey"]
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == rows_in_window(source.table)
    row = observed["rows"]["journey"]
    assert row["attempt"] == 1
    assert f":{observed['pids']['default']}:" in row["claimed_by"]


def test_celery_workers_are_in_the_workers_table_and_in_metrics(
    observed: dict[str, Any],
) -> None:
    assert observed["default_slots"] == [("sluice", "celery"), ("sluice", "celery")]
    metrics = observed["metrics"]
    assert 'sluice_workers_seen{executor="celery",queue="sluice"} 2.0' in metrics
    assert "sluice_runs_in_hand" in metrics


def test_a_task_delivered_twice_runs_the_window_once(
    observed: dict[str, Any], cluster: Cluster
) -> None:
    assert observed["twice_queued"] >= 2
    history = commits(cluster.server.data_dir, observed["flows"]["twice"].dataset_id)
    assert [c.get("sluice.runId") for c in history] == [observed["runs"]["twice"]]


def test_worker_queue_routes_a_run_only_to_workers_serving_that_queue(
    observed: dict[str, Any],
) -> None:
    assert observed["big_status_unserved"] == "scheduled"  # the default worker left it
    claimed_by = observed["rows"]["big"]["claimed_by"]
    assert f":{observed['pids']['routed']}:" in claimed_by


def test_a_lost_task_is_sent_again_by_the_sweep(observed: dict[str, Any]) -> None:
    row = observed["rows"]["lost"]
    assert row["attempt"] == 1
    assert row["enqueued_at"] is not None  # the task the worker took was the sweep's


def test_a_worker_sigkilled_mid_run_is_taken_over_after_its_lease(
    observed: dict[str, Any], cluster: Cluster
) -> None:
    assert observed["doomed_exit"] == -signal.SIGKILL
    assert observed["kill_status_at_kill"] == "inProgress"
    row = observed["rows"]["kill"]
    assert row["attempt"] == 2
    assert f":{observed['pids']['routed']}:" in row["claimed_by"]
    history = commits(cluster.server.data_dir, observed["flows"]["kill"].dataset_id)
    assert [c.get("sluice.runId") for c in history] == [observed["runs"]["kill"]]


def test_the_broker_down_at_api_time_then_the_sweep_sends_the_task(
    observed: dict[str, Any],
) -> None:
    assert observed["broker_down_status"] == "scheduled"  # created: 201
    assert observed["rows"]["broker_down"]["enqueued_at"] is not None
    assert "Could not send" in observed["server_output"]


def test_a_worker_busy_while_the_broker_restarts_keeps_taking_tasks(
    observed: dict[str, Any],
) -> None:
    routed = f":{observed['pids']['routed']}:"
    for name in OUTAGE_FLOWS:
        assert routed in observed["rows"][name]["claimed_by"]
    assert routed in observed["rows"]["after_outage"]["claimed_by"]
    assert observed["rows"]["after_outage"]["attempt"] == 1


def test_a_run_on_rabbitmq_ends_success(cluster: Cluster, source: Source) -> None:
    queue = unique_name("rabbit")
    rabbit_env = {**cluster.env, "SLUICE_BROKER_URL": RABBITMQ_URL}
    rabbit_api = cluster.processes.serve(rabbit_env, "--no-workers", "--no-demo",
                                         "--no-scheduler")
    worker = cluster.processes.worker(rabbit_env, "--queues", queue)
    try:
        with SluiceClient.from_credentials_file(cluster.credentials, rabbit_api.url,
                                                timeout=30) as client:
            flow = postgres_table_flow(client, source.table, workerQueue=queue)
            run_id = create_run(client, flow.flow_id, *WINDOW, delta_column="updated_at")
            run = await_run(client, run_id, [rabbit_api, worker], timeout=120)
        assert run_status(run) == "success", run["metrics"]
        assert f":{worker.process.pid}:" in cluster.run_row(run_id)["claimed_by"]
    finally:
        app = celery_app(RABBITMQ_URL, sender=True)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
        app.close()


# -- configuration --------------------------------------------------------------------------


def test_a_celery_worker_without_a_usable_broker_url_stops_with_a_clear_error(
    tmp_path: Path,
) -> None:
    env = sluice_env(tmp_path / "data", executor="celery")
    missing = run_cli("worker", env=env)
    assert missing.returncode == 1
    assert "SLUICE_BROKER_URL must be set" in missing.stderr
    bad = run_cli("worker", env={**env, "SLUICE_BROKER_URL": "http://user:s3cr3t@host:1/"})
    assert bad.returncode == 1
    assert "scheme 'http' is not supported" in bad.stderr
    assert "s3cr3t" not in bad.stdout + bad.stderr
    assert not (tmp_path / "data").exists()
