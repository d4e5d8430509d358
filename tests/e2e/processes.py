"""Real Sluice processes for the end-to-end tests: `sluice serve`, `sluice worker`, the CLI.

Every process started through `Processes` is stopped when the test ends (SIGINT, then
SIGKILL if it does not exit), whatever the test's outcome. Waits are bounded by generous
timeouts that fail the test with the processes' output; nothing asserts on wall time.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from sluice.client import SluiceClient, run_status
from support.net import free_port
from support.servers import stop as stop  # the e2e tests take it from here

FLOW_SERVICE = "/data/foundation/flowservice"
# The `sluice` console script of the interpreter running the tests (the venv's).
SLUICE = str(Path(sys.executable).with_name("sluice"))
TESTS_DIR = str(Path(__file__).resolve().parents[1])
PG_ADMIN_DSN = os.environ.get(
    "SLUICE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL_BASE = os.environ.get("SLUICE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
T = TypeVar("T")


@dataclass
class SluiceProcess:
    """A started process whose stdout and stderr go to files (read back on failure)."""

    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    name: str = "sluice"

    def output(self) -> str:
        return (self.stdout_path.read_text(errors="replace") + "\n"
                + self.stderr_path.read_text(errors="replace"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crashing machine would: no cleanup, no graceful shutdown."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class ServerProcess(SluiceProcess):
    url: str = ""
    data_dir: Path = field(default_factory=Path)


def _report(watched: Sequence[SluiceProcess]) -> str:
    return "\n".join(f"--- {p.name} (pid {p.process.pid}) ---\n{p.output()}" for p in watched)


def wait_for(what: str, probe: Callable[[], T | None],
             watched: SluiceProcess | Sequence[SluiceProcess], timeout: float = 90.0) -> T:
    """Poll `probe` until it returns a value; fail if a watched process exits or time runs out."""
    processes = [watched] if isinstance(watched, SluiceProcess) else list(watched)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if not process.alive():
                pytest.fail(f"{process.name} exited ({process.process.returncode}) while waiting "
                            f"for {what}:\n{_report(processes)}")
        value = probe()
        if value is not None:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g}s waiting for {what}:\n{_report(processes)}")


def answers(url: str) -> bool | None:
    try:
        httpx.get(f"{url}{FLOW_SERVICE}/flows", timeout=2)
    except httpx.TransportError:
        return None
    return True


def sluice_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The test's environment without any SLUICE_* of its own, plus the given settings
    (`lease_seconds="3"` becomes SLUICE_LEASE_SECONDS=3)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["SLUICE_DATA_DIR"] = str(data_dir)
    env.update({f"SLUICE_{key.upper()}": value for key, value in settings.items()})
    return env


def scaled_out_env(data_dir: Path, database_url: str, **settings: str) -> dict[str, str]:
    """`sluice_env` for processes sharing the PostgreSQL metadata database `database_url`:
    with fresh secret and token-signing keys, which that mode requires of the environment."""
    return sluice_env(data_dir, database_url=database_url,
                      secret_keys=Fernet.generate_key().decode(),
                      token_signing_key=secrets.token_urlsafe(32), **settings)


# `sluice` with the Delta writer patched to SIGKILL its process right after a commit.
KILL_AFTER_COMMIT = (sys.executable, "-m", "support.kill_after_commit_worker")
# `sluice` whose runs stop at the crash point its environment names (`support.crash_points`).
CRASH_POINT = (sys.executable, "-m", "support.crash_point_worker")


def _with_tests_path(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the tests folder importable (for `support.kill_after_commit_worker`)."""
    return {**env, "PYTHONPATH": os.pathsep.join([TESTS_DIR, env.get("PYTHONPATH", "")])}


class Processes:
    """Starts Sluice processes for one test and stops every one of them at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[SluiceProcess] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        """SIGINT to every process at once, then wait for them together (SIGKILL after
        15 s): a topology of many processes stops in the time of its slowest one."""
        for started in reversed(self.started):
            if started.process.poll() is None:
                started.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for started in reversed(self.started):
            try:
                started.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait(timeout=15)

    def _spawn(self, name: str, args: Sequence[str], env: Mapping[str, str],
               command: Sequence[str] = (SLUICE,)) -> tuple[subprocess.Popen[bytes], Path, Path]:
        tag = f"{name}-{len(self.started)}"
        stdout_path, stderr_path = self.workdir / f"{tag}.out", self.workdir / f"{tag}.err"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen([*command, *args], cwd=self.workdir, env=dict(env),
                                       stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        return process, stdout_path, stderr_path

    def serve(self, env: Mapping[str, str], *options: str,
              command: Sequence[str] = (SLUICE,)) -> ServerProcess:
        """`sluice serve --port <free> *options`, once it answers HTTP."""
        server = self.start_serve(env, *options, command=command)
        wait_for("the server to answer", lambda: answers(server.url), server)
        return server

    def start_serve(self, env: Mapping[str, str], *options: str,
                    command: Sequence[str] = (SLUICE,)) -> ServerProcess:
        """`sluice serve --port <free> *options`, started (wait with `answers(server.url)`)."""
        port = free_port()
        process, out, err = self._spawn("serve", ["serve", "--port", str(port), *options], env,
                                        command)
        server = ServerProcess(process, out, err, "sluice serve", f"http://127.0.0.1:{port}",
                               Path(env["SLUICE_DATA_DIR"]))
        self.started.append(server)
        return server

    def worker(self, env: Mapping[str, str], *options: str) -> SluiceProcess:
        """`sluice worker *options`, once it has started polling for runs."""
        (worker,) = self.workers(1, env, *options)
        return worker

    def start_scheduler(self, env: Mapping[str, str]) -> SluiceProcess:
        """`sluice scheduler`, started (wait with `scheduler_running`)."""
        process, out, err = self._spawn("scheduler", ["scheduler"], env)
        scheduler = SluiceProcess(process, out, err, f"sluice scheduler #{len(self.started)}")
        self.started.append(scheduler)
        return scheduler

    def start_worker(self, env: Mapping[str, str], *options: str) -> SluiceProcess:
        """`sluice worker *options`, started (wait with `worker_running`)."""
        process, out, err = self._spawn("worker", ["worker", *options], env)
        worker = SluiceProcess(process, out, err, f"sluice worker #{len(self.started)}")
        self.started.append(worker)
        return worker

    def killed_after_commit_worker(self, env: Mapping[str, str], *options: str) -> SluiceProcess:
        """`sluice worker *options` whose process SIGKILLs itself right after a run's Delta
        commit (`support.faults`): a worker dying between the commit and its record."""
        (worker,) = self.workers(1, _with_tests_path(env), *options, command=KILL_AFTER_COMMIT)
        return worker

    def crash_point_worker(self, env: Mapping[str, str], *options: str) -> SluiceProcess:
        """`sluice worker *options` whose runs stop at the crash point `env` names
        (`CRASH_MATRIX_*`, see `support.crash_points`; none: a healthy worker)."""
        (worker,) = self.workers(1, _with_tests_path(env), *options, command=CRASH_POINT)
        return worker

    def killed_after_commit_server(self, env: Mapping[str, str], *options: str) -> ServerProcess:
        """`sluice serve *options` (with its local workers) whose process SIGKILLs itself
        right after a run's Delta commit: the embedded server dying there."""
        return self.serve(_with_tests_path(env), *options, command=KILL_AFTER_COMMIT)

    def workers(self, count: int, env: Mapping[str, str], *options: str,
                command: Sequence[str] = (SLUICE,)) -> list[SluiceProcess]:
        """`count` processes of `sluice worker *options`, started together."""
        started = []
        for _ in range(count):
            process, out, err = self._spawn("worker", ["worker", *options], env, command)
            worker = SluiceProcess(process, out, err, f"sluice worker #{len(self.started)}")
            self.started.append(worker)
            started.append(worker)
        for worker in started:
            wait_for("the worker to start", partial(_is_running, worker), started)
        return started


@contextmanager
def served(workdir: Path, *options: str, **settings: str) -> Iterator[ServerProcess]:
    """`sluice serve --no-demo *options` with its data dir in `workdir` and the given
    settings (as `sluice_env` takes them), stopped at the end of the block."""
    with Processes(workdir) as processes:
        yield processes.serve(sluice_env(workdir / "data", **settings), "--no-demo", *options)


def run_cli(*args: str, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """One `sluice ...` command to its end (killed, and the test failed, after `timeout`)."""
    try:
        return subprocess.run([SLUICE, *args], capture_output=True, text=True, timeout=timeout,
                              check=False, env=dict(env) if env is not None else None,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"`sluice {' '.join(args)}` did not end within {timeout:g}s: "
                    f"{expired.stdout!r} {expired.stderr!r}")


def _says(process: SluiceProcess, *lines: str) -> bool | None:
    output = process.output()
    return any(line in output for line in lines) or None


def _is_running(worker: SluiceProcess) -> bool | None:
    return _says(worker, "worker running")  # `celery worker running (...)` too


def worker_running(worker: SluiceProcess) -> bool | None:
    """Whether a started `sluice worker` takes runs now."""
    return _is_running(worker)


def scheduler_running(scheduler: SluiceProcess) -> bool | None:
    return _says(scheduler, "scheduler running")


def client_for(server: ServerProcess, credentials: Path | None = None) -> SluiceClient:
    """An API client with the embedded credentials (or the given credentials file)."""
    path = credentials or server.data_dir / "credentials.json"
    return SluiceClient.from_credentials_file(path, server.url, timeout=60)


def await_run(client: SluiceClient, run_id: str, watched: Sequence[SluiceProcess],
              timeout: float = 180.0) -> dict[str, Any]:
    """The run once it has ended (success, failed or cancelled)."""
    def ended() -> dict[str, Any] | None:
        run = client.get_item(f"runs/{run_id}")
        return run if run_status(run) in ("success", "failed", "cancelled") else None
    return wait_for(f"run {run_id} to end", ended, watched, timeout)


# -- PostgreSQL ---------------------------------------------------------------------------


def pg_source(sql: str, params: Sequence[Any] | None = None) -> None:
    """Run SQL on the source database `test`."""
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                         autocommit=True) as conn:
        conn.execute(sql, params)


def pg_query(sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test") as conn:
        return list(conn.execute(sql, params).fetchall())


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextmanager
def source_table(prefix: str) -> Iterator[str]:
    """A unique table name in the source database `test`: the block creates the table, which
    is dropped at its end (whether or not it was created)."""
    name = unique_name(prefix)
    try:
        yield name
    finally:
        pg_source(f"DROP TABLE IF EXISTS {name}")


@contextmanager
def metadata_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for Sluice's metadata; its SQLAlchemy URL."""
    name = unique_name("sluice_e2e")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL_BASE}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def provision_client(env: Mapping[str, str], path: Path) -> Path:
    """An org and an API client made with `sluice admin` (scaled-out mode has no embedded
    credentials), written as a credentials.json the client and the CLI read."""
    org = run_cli("admin", "orgs", "create", "e2e", "--output", "json", env=env)
    assert org.returncode == 0, org.stdout + org.stderr
    org_id = json.loads(org.stdout)["id"]
    issued = run_cli("admin", "clients", "create", "--org", org_id, "--output", "json", env=env)
    assert issued.returncode == 0, issued.stdout + issued.stderr
    creds = json.loads(issued.stdout)
    path.write_text(json.dumps({**creds, "sandboxName": "prod"}))
    path.chmod(0o600)
    return path
