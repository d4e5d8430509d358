"""The Celery executor over real processes: `sluice serve --no-workers` and `sluice worker`
with SLUICE_EXECUTOR=celery, PostgreSQL metadata, and a real broker (a Redis server of the
module's own, so the tests can count and drop its messages; RabbitMQ for one journey).

A task only says "run X is ready": every scenario checks that the database decides, i.e.
that a duplicate task, a lost task, a worker SIGKILLed mid-run and a broker that is down all
end with the run `success` and its window written once.
"""

from __future__ import annotations

import random
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
from processes import (
    Processes,
    ServerProcess,
    SluiceProcess,
    await_run,
    metadata_database,
    pg_query,
    pg_source,
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

LEASE_SECONDS = 3
ROWS = 200
BASE_EPOCH = 1_714_521_600  # 2024-05-01T00:00:00Z
WINDOW = (BASE_EPOCH, BASE_EPOCH + 86_400)
GATE_ROW = 100
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


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


@dataclass(frozen=True)
class Source:
    table: str
    gated_view: str
    gate_key: int


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    """A small table (one row every 7 minutes of the window's day) and a view of it whose
    reader blocks at GATE_ROW while the test holds an advisory lock."""
    table, view, gate = (unique_name("e2e_celery"), unique_name("e2e_celery_gated"),
                         unique_name("e2e_celery_gate"))
    key = random.randint(1, 2**31 - 1)
    pg_source(f"""
        CREATE TABLE {table} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL,
                              payload text NOT NULL);
        INSERT INTO {table}
        SELECT g, to_timestamp({BASE_EPOCH}) + g * interval '7 minutes', md5(g::text)
        FROM generate_series(1, {ROWS}) AS g;
        CREATE FUNCTION {gate}(row_id bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF row_id = {GATE_ROW} THEN
                PERFORM pg_advisory_lock_shared({key});
                PERFORM pg_advisory_unlock_shared({key});
            END IF;
            RETURN true;
        END $$;
        CREATE VIEW {view} AS SELECT * FROM {table} WHERE {gate}(id);
    """)
    try:
        yield Source(table, view, key)
    finally:
        pg_source(f"DROP VIEW IF EXISTS {view}; DROP FUNCTION IF EXISTS {gate}(bigint);"
                  f" DROP TABLE IF EXISTS {table}")


def rows_in_window(table: str) -> int:
    ((count,),) = pg_query(
        f"SELECT count(*) FROM {table} WHERE updated_at >= to_timestamp(%s) "
        "AND updated_at < to_timestamp(%s)", list(WINDOW))
    return int(count)


def queued(broker_url: str, queue: str) -> int:
    """Messages waiting in a Redis queue (Celery's list named after the queue)."""
    return int(redis.Redis.from_url(broker_url).llen(queue))


def settled(broker_url: str, queue: str) -> bool | None:
    """True once the queue is empty and no message is delivered but unacknowledged."""
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


# -- the journey ----------------------------------------------------------------------------


def test_a_run_created_through_the_api_ends_success_on_a_celery_worker(
    cluster: Cluster, source: Source
) -> None:
    worker = cluster.worker()
    with cluster.client() as client:
        flow = postgres_table_flow(client, source.table)
        run_id = create_run(client, flow.flow_id, *WINDOW, delta_column="updated_at")
        run = ended_ok(cluster, client, run_id)
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == rows_in_window(source.table)
    row = cluster.run_row(run_id)
    assert row["attempt"] == 1
    assert f":{worker.process.pid}:" in row["claimed_by"]
    # Its slots are in the workers table with their queue and executor, and in /metrics.
    slots = cluster.metadata(
        f"SELECT queues, executor FROM workers WHERE id LIKE '%:{worker.process.pid}:%'")
    assert slots == [("sluice", "celery"), ("sluice", "celery")]
    metrics = httpx.get(f"{cluster.server.url}/metrics", timeout=10).text
    assert 'sluice_workers_seen{executor="celery",queue="sluice"}' in metrics


def test_a_task_delivered_twice_runs_the_window_once(cluster: Cluster, source: Source) -> None:
    queue = unique_name("twice")
    with cluster.client() as client:
        flow = postgres_table_flow(client, source.table, workerQueue=queue)
        run_id = create_run(client, flow.flow_id, *WINDOW, delta_column="updated_at")
        wait_for("the API's task", lambda: queued(cluster.broker_url, queue) or None,
                 cluster.watched())
        send_task(cluster.broker_url, run_id, queue)
        assert queued(cluster.broker_url, queue) >= 2
        cluster.worker("--queues", queue, "--concurrency", "2")
        ended_ok(cluster, client, run_id)
        wait_for("every copy of the task to be taken and acknowledged",
                 lambda: settled(cluster.broker_url, queue), cluster.watched())
        # A copy delivered after the end is a no-op too.
        send_task(cluster.broker_url, run_id, queue)
        wait_for("the late copy to be acknowledged",
                 lambda: settled(cluster.broker_url, queue), cluster.watched())
    assert cluster.run_row(run_id)["attempt"] == 1
    history = commits(cluster.server.data_dir, flow.dataset_id)
    assert [c.get("sluice.runId") for c in history] == [run_id]


def test_worker_queue_routes_a_run_only_to_workers_serving_that_queue(
    cluster: Cluster, source: Source
) -> None:
    queue = unique_name("big")
    default = cluster.worker()  # serves `sluice` only
    with cluster.client() as client:
        flow = postgres_table_flow(client, source.table, workerQueue=queue)
        run_id = create_run(client, flow.flow_id, *WINDOW, delta_column="updated_at")
        wait_for("the task in its queue", lambda: queued(cluster.broker_url, queue) or None,
                 cluster.watched())
        assert run_status(client.get_item(f"runs/{run_id}")) == "scheduled"
        big = cluster.worker("--queues", f"{queue},other")
        ended_ok(cluster, client, run_id)
    claimed_by = cluster.run_row(run_id)["claimed_by"]
    assert f":{big.process.pid}:" in claimed_by
    assert f":{default.process.pid}:" not in claimed_by


def test_a_lost_task_is_sent_again_by_the_sweep(cluster: Cluster, source: Source) -> None:
    queue = unique_name("lost")
    with cluster.client() as client:
        flow = postgres_table_flow(client, source.table, workerQueue=queue)
        run_id = create_run(client, flow.flow_id, *WINDOW, delta_column="updated_at")
        wait_for("the API's task", lambda: queued(cluster.broker_url, queue) or None,
                 cluster.watched())
        redis.Redis.from_url(cluster.broker_url).delete(queue)  # the broker lost it
        cluster.worker("--queues", queue)
        ended_ok(cluster, client, run_id)
    row = cluster.run_row(run_id)
    assert row["attempt"] == 1
    assert row["enqueued_at"] is not None  # the task the worker took was the sweep's


def test_a_worker_sigkilled_mid_run_is_taken_over_after_its_lease(
    cluster: Cluster, source: Source
) -> None:
    queue = unique_name("kill")
    gate = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                           autocommit=True)
    with cluster.client() as client:
        flow = postgres_table_flow(client, source.gated_view, workerQueue=queue)
        try:
            gate.execute("SELECT pg_advisory_lock(%s)", [source.gate_key])
            run_id = create_run(client, flow.flow_id, *WINDOW, delta_column="updated_at")
            doomed = cluster.worker("--queues", queue)
            wait_for("the doomed worker to hold the run",
                     lambda: f":{doomed.process.pid}:" in (cluster.run_row(run_id)["claimed_by"]
                                                            or "") or None,
                     cluster.watched())
            doomed.kill()
        finally:
            gate.close()
        assert doomed.process.returncode == -signal.SIGKILL
        assert cluster.run_row(run_id)["status"] == "inProgress"
        healthy = cluster.worker("--queues", queue)
        ended_ok(cluster, client, run_id)
    row = cluster.run_row(run_id)
    assert row["attempt"] == 2
    assert f":{healthy.process.pid}:" in row["claimed_by"]
    history = commits(cluster.server.data_dir, flow.dataset_id)
    assert [c.get("sluice.runId") for c in history] == [run_id]


# -- the broker ---------------------------------------------------------------------------


def test_the_broker_down_at_api_time_then_the_sweep_sends_the_task(
    tmp_path: Path, source: Source
) -> None:
    with redis_server(tmp_path) as own_broker, metadata_database() as url, \
            Processes(tmp_path) as processes:
        cluster = start_cluster(tmp_path, processes, url, own_broker.url)
        cluster.worker()
        with cluster.client() as client:
            flow = postgres_table_flow(client, source.table)
            own_broker.stop()
            # The request answers 201 although its task cannot be sent.
            run_id = create_run(client, flow.flow_id, *WINDOW, delta_column="updated_at")
            assert run_status(client.get_item(f"runs/{run_id}")) == "scheduled"
            assert "Could not send" in wait_for(
                "the API's warning", lambda: cluster.server.output() if "Could not send"
                in cluster.server.output() else None, cluster.watched())
            own_broker.start()  # same port: the worker reconnects, the sweep sends the task
            ended_ok(cluster, client, run_id)
        assert cluster.run_row(run_id)["enqueued_at"] is not None
        assert "password" not in cluster.server.output()


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
    queues = run_cli("worker", "--queues", "ok,not ok", env={
        **env, "SLUICE_BROKER_URL": "redis://127.0.0.1:1/0"})
    assert queues.returncode == 1 and "'not ok'" in queues.stderr
    assert not (tmp_path / "data").exists()
