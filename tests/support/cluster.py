"""The scaled-out topology over real processes, for the cluster test and `make cluster`.

Every process gets a data dir of its own, empty, as on a machine of its own: all they share is
what the environment names (the PostgreSQL metadata database, the keys, the S3 lake and the
broker). `Topology` starts and stops the processes; the brokers here are the ones a test can
stop and restart (its own `redis-server`) or isolate (a RabbitMQ vhost of its own).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
from cryptography.fernet import Fernet

from support.net import free_port
from support.redis_server import RedisServer

MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))
RABBITMQCTL = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
# The queue runs go to when their flow names none (`sluice worker` serves it by default).
DEFAULT_QUEUE = "sluice"
RUN_READY_TASK = "sluice.run_ready"


class MotoS3:
    """moto's S3 server as a process of its own: the lake every cluster process shares. (A
    server thread inside the test process would share its GIL with the test's polling, and
    serve every process's commits at the pace of one busy interpreter.) It accepts any keys."""

    REGION = "us-east-1"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def storage_options(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "cluster",
                "AWS_SECRET_ACCESS_KEY": "cluster", "AWS_REGION": self.REGION,
                "AWS_ALLOW_HTTP": "true"}

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.REGION,
                            aws_access_key_id="cluster", aws_secret_access_key="cluster")

    def start(self) -> None:
        log = (self.workdir / f"moto-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.client().list_buckets()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError(f"moto_server on port {self.port} did not start")

    def new_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


class RedisBroker(RedisServer):
    """A `redis-server` of our own on a free loopback port, that keeps nothing on disk: a
    restart loses every message in flight, as a crashed broker without persistence would."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(free_port(), workdir)


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A vhost of its own on the machine's RabbitMQ (guest may use it); its broker URL."""
    vhost = f"sluice-{uuid.uuid4().hex[:10]}"
    subprocess.run([RABBITMQCTL, "add_vhost", vhost], check=True, capture_output=True)
    try:
        subprocess.run([RABBITMQCTL, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True)
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        subprocess.run([RABBITMQCTL, "delete_vhost", vhost], check=False, capture_output=True)


@dataclass(frozen=True)
class ClusterSettings:
    """What every process of the cluster is given, and nothing else."""

    database_url: str
    broker_url: str
    lake_uri: str
    lake_storage_options: Mapping[str, str]
    files_root: Path
    secret_keys: str = field(default_factory=lambda: Fernet.generate_key().decode())
    token_signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Short, so a killed worker's run is taken over within seconds.
    lease_seconds: float = 4.0
    scheduler_interval_seconds: float = 1.0
    sweep_interval_seconds: float = 1.0

    def environment(self, data_dir: Path, base: Mapping[str, str]) -> dict[str, str]:
        """`base` without any SLUICE_* of its own, plus the cluster's settings."""
        env = {k: v for k, v in base.items() if not k.startswith("SLUICE_")}
        env.update({
            "SLUICE_DATA_DIR": str(data_dir),
            "SLUICE_DATABASE_URL": self.database_url,
            "SLUICE_SECRET_KEYS": self.secret_keys,
            "SLUICE_TOKEN_SIGNING_KEY": self.token_signing_key,
            "SLUICE_EXECUTOR": "celery",
            "SLUICE_BROKER_URL": self.broker_url,
            "SLUICE_LAKE_URI": self.lake_uri,
            "SLUICE_LAKE_STORAGE_OPTIONS": json.dumps(dict(self.lake_storage_options)),
            "SLUICE_LOCAL_FILE_ROOTS": str(self.files_root),
            "SLUICE_LEASE_SECONDS": str(self.lease_seconds),
            "SLUICE_SCHEDULER_INTERVAL_SECONDS": str(self.scheduler_interval_seconds),
            "SLUICE_SWEEP_INTERVAL_SECONDS": str(self.sweep_interval_seconds),
        })
        return env


def metadata_connection(database_url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A psycopg connection to the SQLAlchemy URL's database."""
    return psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"),
                           autocommit=True)


def leader_pid(database_url: str) -> int | None:
    """The pid of the scheduler holding a live leadership lease (holders are host:pid:nonce)."""
    with metadata_connection(database_url) as conn:
        row = conn.execute(
            "SELECT holder FROM scheduler_leases WHERE name = 'scheduler' "
            "AND expires_at > (extract(epoch FROM now()) * 1000)::bigint").fetchone()
    return int(str(row[0]).split(":")[1]) if row else None


def busy_worker_pids(database_url: str) -> dict[int, str]:
    """Worker processes that have a run in hand: pid -> run id."""
    with metadata_connection(database_url) as conn:
        rows = conn.execute(
            "SELECT pid, current_run_id FROM workers WHERE current_run_id IS NOT NULL").fetchall()
    return {int(str(pid)): str(run_id) for pid, run_id in rows}


def run_attempts(database_url: str) -> dict[str, int]:
    """Run id -> how many attempts it took (more than one: it was taken over or retried)."""
    with metadata_connection(database_url) as conn:
        rows = conn.execute("SELECT id, attempt FROM runs").fetchall()
    return {str(run_id): int(str(attempt)) for run_id, attempt in rows}


def send_run_ready(broker_url: str, run_id: str, queue: str = DEFAULT_QUEUE) -> None:
    """Deliver a `run X is ready` task, as a broker redelivering a message would."""
    from celery import Celery

    app = Celery("sluice-test", broker=broker_url)
    try:
        app.send_task(RUN_READY_TASK, args=[run_id], queue=queue)
    finally:
        app.close()
