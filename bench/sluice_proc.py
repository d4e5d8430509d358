"""A real `sluice serve` process for the benchmark, its memory read from /proc, and flows
built through its HTTP API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from common import PG_DB, PG_HOST, PG_PORT, PG_USER
from sluice.client import Created, SluiceClient, run_status

SLUICE = str(Path(sys.executable).with_name("sluice"))
CATALOG = "/data/foundation/catalog"
POSTGRES_SPEC = "1bed8a75-0487-4216-85f5-94ddf2058992"
LOCAL_FILES_SPEC = "bc3ffdcf-1b46-41ec-b156-a8c195929f8a"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
TABLE_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
FILE_FLOW_SPEC = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
TERMINAL = ("success", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (bytes) of a live process."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> None:
    """Reset the process's VmHWM to its current RSS (Linux `clear_refs` 5)."""
    with open(f"/proc/{pid}/clear_refs", "w") as handle:
        handle.write("5")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, credentials: Path | None = None) -> SluiceClient:
        path = credentials or self.data_dir / "credentials.json"
        return SluiceClient.from_credentials_file(path, self.url, timeout=120)

    def stop(self) -> dict[str, float]:
        """SIGINT, then wait4: the process's own peak RSS and CPU from the kernel."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pid, _status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self.process.returncode = 0
                return {"maxrss": usage.ru_maxrss * 1024, "cpu": usage.ru_utime + usage.ru_stime}
            time.sleep(0.1)
        self.process.kill()
        _pid, _status, usage = os.wait4(self.pid, 0)
        self.process.returncode = -9
        return {"maxrss": usage.ru_maxrss * 1024, "cpu": usage.ru_utime + usage.ru_stime}


def sluice_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env["SLUICE_DATA_DIR"] = str(data_dir)
    env["SLUICE_LOG_LEVEL"] = "warning"
    env.update({f"SLUICE_{key.upper()}": value for key, value in settings.items()})
    return env


def start_server(data_dir: Path, env: dict[str, str], *options: str) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    return launch([SLUICE, "serve", "--port", str(port), "--no-demo", *options], port,
                  data_dir, data_dir / f"serve-{port}.log", "sluice serve",
                  probe="/data/foundation/flowservice/flows", env=env, timeout=120)


def absolute_pythonpath(env: dict[str, str]) -> dict[str, str]:
    """`env` with its PYTHONPATH entries made absolute: servers start in their own folder,
    where `PYTHONPATH=src` would silently import the installed Sluice instead."""
    if env.get("PYTHONPATH"):
        env = {**env, "PYTHONPATH": os.pathsep.join(
            str(Path(entry).resolve()) if entry else entry
            for entry in env["PYTHONPATH"].split(os.pathsep))}
    return env


def launch(command: list[str], port: int, home: Path, log_path: Path, what: str, *,
           probe: str = "/", env: dict[str, str] | None = None, timeout: float = 60
           ) -> Server:
    """`command` started in `home` (output to `log_path`), once `probe` on `port` answers;
    RuntimeError with the log's tail if it exits or stays silent for `timeout` seconds."""
    env = absolute_pythonpath(dict(os.environ) if env is None else env)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=home)
    server = Server(process, f"http://127.0.0.1:{port}", home, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log_path.read_text()[-3000:]}")
        try:
            httpx.get(f"{server.url}{probe}", timeout=2)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{what} did not answer:\n{log_path.read_text()[-3000:]}")


def run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([SLUICE, *args], env=env, capture_output=True, text=True, check=False,
                          timeout=300, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"sluice {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def provision_client(env: dict[str, str], path: Path) -> Path:
    """An org and API client made with `sluice admin` (PostgreSQL metadata has no embedded
    credentials)."""
    org = json.loads(run_cli(env, "admin", "orgs", "create", "bench", "--output", "json"))
    issued = json.loads(
        run_cli(env, "admin", "clients", "create", "--org", org["id"], "--output", "json")
    )
    path.write_text(json.dumps({**issued, "sandboxName": "prod"}))
    path.chmod(0o600)
    return path


# -- flows --------------------------------------------------------------------------------


def _id(created: Any) -> str:
    return Created.from_body(created).id


def _once_later() -> dict[str, str]:
    return {"startTime": str(int(time.time()) + 86_400), "frequency": "once"}


def _flow(
    client: SluiceClient, name: str, spec: str, source: str, parallelism: int | None = None
) -> tuple[str, str]:
    dataset_id = _id(client.post(f"{CATALOG}/dataSets", {"name": name}))
    target = _id(client.post("targetConnections", {
        "name": f"{name} lake", "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"}}))
    flow = _id(client.post("flows", {
        "name": name, "flowSpec": {"id": spec, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target],
        "scheduleParams": _once_later(),
        # None: the flow's default (min(4, cores), windows of 500,000+ rows only).
        "options": {} if parallelism is None else {"parallelism": parallelism}}))
    return flow, dataset_id


def postgres_flow(
    client: SluiceClient, table: str, parallelism: int | None = None
) -> tuple[str, str]:
    base = _id(client.post("connections", {
        "name": f"pg {table}",
        "auth": {"specName": "Basic Authentication", "params": {
            "host": PG_HOST, "port": PG_PORT, "database": PG_DB,
            "username": PG_USER, "password": "unused-with-trust"}},
        "connectionSpec": {"id": POSTGRES_SPEC, "version": "1.0"}}))
    source = _id(client.post("sourceConnections", {
        "name": f"source {table}", "baseConnectionId": base, "data": {"format": "tabular"},
        "params": {"tableName": table}, "connectionSpec": {"id": POSTGRES_SPEC, "version": "1.0"}}))
    return _flow(client, table, TABLE_FLOW_SPEC, source, parallelism)


def csv_flow(
    client: SluiceClient, folder: Path, parallelism: int | None = None
) -> tuple[str, str]:
    base = _id(client.post("connections", {
        "name": f"folder {folder.name}",
        "auth": {"specName": "Local Folder Authentication", "params": {"rootPath": str(folder)}},
        "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}}))
    source = _id(client.post("sourceConnections", {
        "name": f"csv {folder.name}", "baseConnectionId": base,
        "data": {"format": "delimited", "columnDelimiter": ","},
        "params": {"path": "*.csv"}, "connectionSpec": {"id": LOCAL_FILES_SPEC, "version": "1.0"}}))
    return _flow(client, folder.name, FILE_FLOW_SPEC, source, parallelism)


def run_body(flow_id: str, start: int, end: int, delta_column: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"startTime": "0", "windowStartTime": str(start),
                              "windowEndTime": str(end)}
    if delta_column is not None:
        params["deltaColumn"] = {"name": delta_column}
    return {"flowId": flow_id, "params": params}


def timed_run(client: SluiceClient, body: dict[str, Any], *, poll: float,
              timeout: float = 3600.0, server: Server | None = None) -> dict[str, Any]:
    """POST /runs, then poll GET /runs/{id} until the run ends.

    `seconds` runs from just before the POST to the run's `completedAtUTC` (the server's
    clock, which is this machine's clock): exact, however slowly we poll, so the polling
    GETs (which compete with the run for the server's CPU and GIL) can be rare. With
    `server`, its peak RSS over the run (VmHWM reset just before the POST) and its CPU."""
    peak_rss = 0
    baseline_rss = proc_status(server.pid)["VmRSS"] if server else 0
    cpu_before = cpu_seconds(server.pid) if server else 0.0
    if server is not None:
        reset_peak(server.pid)
    posted_at = time.time()
    started = time.perf_counter()
    run_id = str(client.post("runs", body)["items"][0]["id"])
    while True:
        run = client.get_item(f"runs/{run_id}")
        if run_status(run) in TERMINAL:
            break
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"run {run_id} did not end in {timeout}s")
        time.sleep(poll)
    seen = time.perf_counter() - started
    if server is not None:
        peak_rss = proc_status(server.pid)["VmHWM"]
    if run_status(run) != "success":
        raise RuntimeError(f"run {run_id} ended {run_status(run)}: "
                           f"{json.dumps(run['metrics']['statusSummary'])[:2000]}")
    records = run["metrics"]["recordSummary"]
    duration = run["metrics"]["durationSummary"]
    completed = duration.get("completedAtUTC") or 0
    return {
        "run_id": run_id,
        "seconds": completed / 1000 - posted_at if completed else seen,
        "seen_seconds": seen,
        "rows": int(records["outputRecordCount"]),
        "peak_rss": peak_rss,
        "baseline_rss": baseline_rss,
        "cpu": (cpu_seconds(server.pid) - cpu_before) if server else None,
        "server_seconds": (completed - duration.get("startedAtUTC", 0)) / 1000,
    }
