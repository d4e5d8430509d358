"""`make cluster`: the scaled-out topology on this machine, to try it before deploying it.

Starts what the cluster test starts (tests/e2e/test_cluster.py), with the same settings and
lake (`support.cluster`): an S3-compatible lake (moto's server, from the dev dependencies),
2 API processes, 2 schedulers (one leads, one stands by) and 3 Celery workers, each with an
empty data dir of its own under `.cluster/`, sharing only PostgreSQL metadata (the database
`sluice_cluster` on 127.0.0.1:5432, created if missing) and the broker (the machine's Redis,
db 5). Set SLUICE_CLUSTER_DATABASE_URL / SLUICE_CLUSTER_BROKER_URL to use others. Ctrl-C
stops every process gracefully.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
from rich.console import Console
from rich.panel import Panel

from support.cluster import ClusterSettings, MotoS3

ROOT = Path(__file__).resolve().parents[1]
WORKDIR = ROOT / ".cluster"
SLUICE = str(Path(sys.executable).with_name("sluice"))
DATABASE_URL = os.environ.get(
    "SLUICE_CLUSTER_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/sluice_cluster")
BROKER_URL = os.environ.get("SLUICE_CLUSTER_BROKER_URL", "redis://127.0.0.1:6379/5")
API_PORTS = (8081, 8082)
console = Console()


def ensure_database(url: str) -> None:
    """Create the metadata database if it does not exist (on the URL's server)."""
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(f'CREATE DATABASE "{name}"')


def spawn(name: str, args: list[str], settings: ClusterSettings) -> subprocess.Popen[bytes]:
    data_dir = WORKDIR / name / "data"
    data_dir.mkdir(parents=True)
    log = (WORKDIR / f"{name}.log").open("wb")
    return subprocess.Popen([SLUICE, *args], env=settings.environment(data_dir, os.environ),
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"an API process exited; see {WORKDIR}/*.log")
        try:
            httpx.get(f"{url}/metrics", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within 120 s; see {WORKDIR}/*.log")


def provision_credentials(settings: ClusterSettings) -> Path:
    env = settings.environment(WORKDIR / "admin", os.environ)
    org = subprocess.run([SLUICE, "admin", "orgs", "create", "cluster", "--output", "json"],
                         env=env, capture_output=True, text=True, check=True)
    client = subprocess.run(
        [SLUICE, "admin", "clients", "create", "--org", json.loads(org.stdout)["id"],
         "--output", "json"], env=env, capture_output=True, text=True, check=True)
    path = WORKDIR / "credentials.json"
    path.write_text(json.dumps({**json.loads(client.stdout), "sandboxName": "prod"}))
    path.chmod(0o600)
    return path


def main() -> None:
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir()
    ensure_database(DATABASE_URL)
    lake = MotoS3(WORKDIR)
    lake.start()
    lake.new_bucket("sluice-lake")
    options = lake.storage_options()
    settings = ClusterSettings(
        database_url=DATABASE_URL, broker_url=BROKER_URL, lake_uri="s3://sluice-lake/lake",
        lake_storage_options=options, files_root=WORKDIR / "files",
        lease_seconds=30, scheduler_interval_seconds=5, sweep_interval_seconds=15)
    settings.files_root.mkdir()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, port in enumerate(API_PORTS):
            api = spawn(f"api-{index}", ["serve", "--no-demo", "--no-workers", "--no-scheduler",
                                         "--port", str(port)], settings)
            processes.append(api)
            wait_until_answering(f"http://127.0.0.1:{port}", api)
        credentials = provision_credentials(settings)
        processes += [spawn(f"scheduler-{i}", ["scheduler"], settings) for i in range(2)]
        processes += [spawn(f"worker-{i}", ["worker", "--concurrency", "2"], settings)
                      for i in range(3)]
        console.print(Panel.fit(
            f"API            http://127.0.0.1:{API_PORTS[0]}  and  "
            f"http://127.0.0.1:{API_PORTS[1]}\n"
            f"credentials    {credentials}\n"
            f"metadata       {DATABASE_URL}\n"
            f"broker         {BROKER_URL}\n"
            f"lake           s3://sluice-lake/lake at {options['AWS_ENDPOINT_URL']}\n"
            f"local files    {settings.files_root} (SLUICE_LOCAL_FILE_ROOTS of every process)\n"
            f"logs           {WORKDIR}/<process>.log\n\n"
            f"Try:  SLUICE_URL=http://127.0.0.1:{API_PORTS[0]} .venv/bin/sluice flows list "
            f"--credentials {credentials}\n"
            "Kill a worker or the leading scheduler (kill -9) and watch the others take over.\n"
            "Ctrl-C stops everything.",
            title="Sluice cluster: 2 API processes, 2 schedulers, 3 Celery workers"))
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        lake.stop()
        console.print("cluster stopped")


if __name__ == "__main__":
    main()
