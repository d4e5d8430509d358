"""Scale-out benchmark (issue 11 section 5): `python bench/scale_out.py`.

1. Throughput: `--runs` small on-demand runs (1,000 rows each, successive windows of
   `orders_<runs * 1000>`) posted as fast as one client can, through one API process on
   PostgreSQL metadata, executed by the local executor (`sluice serve` with 2 local workers)
   and by 1, 2 and 3 `sluice worker` Celery processes (concurrency 2 each, the machine's
   Redis as broker). Reported: runs/s from the first POST to the last run's completion, and
   the queue latency of each run (created -> claimed, `runs.started_at - runs.created_at`),
   p50 and p95.
2. Lake: the table window of `orders_<lake rows>` into the local lake and into an S3 lake
   (moto's server on loopback, the only S3-compatible server that installs from PyPI here),
   one after the other; the ratio.

Writes `bench/.data/results/scale_out.json` and the Markdown section between the
`bench:scale` markers of bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import psycopg

import data
from common import (
    BASE_EPOCH,
    DATA_DIR,
    PG_ADMIN_DSN,
    PG_HOST,
    PG_PORT,
    PG_USER,
    RESULTS_DIR,
    table_name,
)
from sluice_proc import (
    SLUICE,
    Server,
    postgres_flow,
    provision_client,
    run_body,
    sluice_env,
    start_server,
    timed_run,
)

META_DB = "sluice_bench_scale"
META_URL = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{META_DB}"
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7")
ROWS_PER_RUN = 1000
WORK = DATA_DIR / "scale_work"
README = BENCH / "README.md"
START, END = "<!-- bench:scale:start -->", "<!-- bench:scale:end -->"
KEYS = {
    "secret_keys": "0" * 43 + "=",  # replaced in main() by a real Fernet key
    "token_signing_key": "bench-signing-key-bench-signing-key",
}


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def fresh_metadata() -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{META_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{META_DB}"')


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(BROKER).flushdb()


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    workers = []
    for index in range(count):
        data_dir = WORK / f"worker-{index}"
        data_dir.mkdir(parents=True)
        log_file = (data_dir / "worker.log").open("wb")
        workers.append(subprocess.Popen(
            [SLUICE, "worker", "--concurrency", "2"],
            env={**env, "SLUICE_DATA_DIR": str(data_dir)},
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # every worker has registered itself
        with psycopg.connect(META_URL.replace("+psycopg", "")) as conn:
            seen = conn.execute("SELECT count(DISTINCT pid) FROM workers").fetchone()
        if seen and int(seen[0]) >= count:
            return workers
        time.sleep(0.2)
    raise RuntimeError("the Celery workers did not register")


def queue_latencies() -> list[float]:
    with psycopg.connect(META_URL.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT started_at - created_at FROM runs WHERE started_at IS NOT NULL").fetchall()
    return sorted(float(row[0]) / 1000 for row in rows)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def throughput(executor: str, workers: int, runs: int) -> dict[str, Any]:
    """Post `runs` runs, wait for all of them; runs/s and queue latencies."""
    shutil.rmtree(WORK, ignore_errors=True)
    fresh_metadata()
    lake = WORK / "lake"  # one machine: every process shares this folder as its lake
    settings = {**KEYS, "database_url": META_URL, "lake_uri": str(lake),
                "lease_seconds": "60"}
    if executor == "celery":
        flush_broker()
        settings.update(executor="celery", broker_url=BROKER)
    env = sluice_env(WORK / "api", **settings)
    options = ["--no-scheduler", "--workers", str(workers)] if executor == "local" \
        else ["--no-scheduler", "--no-workers"]
    server = start_server(WORK / "api", env, *options)
    started_workers = start_workers(workers, env) if executor == "celery" else []
    try:
        credentials = provision_client(env, WORK / "credentials.json")
        with server.client(credentials) as client:
            flow_id, _dataset = postgres_flow(client, table_name(runs * ROWS_PER_RUN))
            # The first run fixes the delta column; it is not counted.
            timed_run(client, run_body(flow_id, BASE_EPOCH, BASE_EPOCH + 1, "event_at"),
                      poll=0.2)
            fresh_latencies = len(queue_latencies())
            began = time.time()
            ids = []
            for k in range(runs):
                start = BASE_EPOCH + k * ROWS_PER_RUN
                body = run_body(flow_id, start, start + ROWS_PER_RUN, None)
                ids.append(str(client.post("runs", body)["items"][0]["id"]))
            posted = time.time() - began
            ended = wait_all(client, ids)
        latencies = queue_latencies()[fresh_latencies:] or queue_latencies()
        return {
            "executor": executor, "workers": workers, "runs": runs,
            "seconds": ended - began, "runs_per_second": runs / (ended - began),
            "post_seconds": posted,
            "latency_p50": percentile(latencies, 0.5), "latency_p95": percentile(latencies, 0.95),
            "load": os.getloadavg()[0],
        }
    finally:
        for worker in started_workers:
            worker.terminate()
        for worker in started_workers:
            worker.wait(timeout=60)
        server.stop()


def wait_all(client: Any, ids: list[str]) -> float:
    """Poll until every run ended; the last completion time (epoch seconds)."""
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        done = 0
        last = 0.0
        with psycopg.connect(META_URL.replace("+psycopg", "")) as conn:
            rows = conn.execute("SELECT status, completed_at FROM runs WHERE id = ANY(%s)",
                                (ids,)).fetchall()
        for status, completed in rows:
            if status in ("success", "failed", "cancelled"):
                if status != "success":
                    raise RuntimeError(f"a run ended {status}")
                done += 1
                last = max(last, float(completed) / 1000)
        if done == len(ids):
            return last
        time.sleep(0.5)
    raise TimeoutError("the runs did not all end")


def lake_window(rows: int, lake: str, storage_options: dict[str, str] | None) -> dict[str, Any]:
    shutil.rmtree(WORK, ignore_errors=True)
    settings: dict[str, str] = {"lake_uri": lake}
    if storage_options:
        settings["lake_storage_options"] = json.dumps(storage_options)
    server: Server = start_server(WORK / "serve", sluice_env(WORK / "serve", **settings))
    try:
        with server.client() as client:
            flow_id, _dataset = postgres_flow(client, table_name(rows))
            start, end = BASE_EPOCH, BASE_EPOCH + rows
            result = timed_run(client, run_body(flow_id, start, end, "event_at"), poll=0.5,
                               server=server)
        return {"lake": lake.split(":")[0] if "://" in lake else "local", "rows": rows,
                "seconds": result["seconds"], "peak_rss": result["peak_rss"]}
    finally:
        server.stop()


def s3_lake() -> tuple[Any, str, dict[str, str]]:
    import boto3
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    options = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
               "AWS_ALLOW_HTTP": "true"}
    boto3.client("s3", endpoint_url=options["AWS_ENDPOINT_URL"], region_name="us-east-1",
                 aws_access_key_id="bench", aws_secret_access_key="bench",  # noqa: S106 (moto accepts any)
                 ).create_bucket(Bucket="bench-lake")
    return moto, "s3://bench-lake/lake", options


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Run {results['started']} to {results['ended']} on {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; load average at the start "
        f"{results['load_start']}.",
        "",
        f"**Throughput**: {results['runs']} runs of {ROWS_PER_RUN:,} rows, one API process, "
        "PostgreSQL metadata, a local-folder lake shared by every process.",
        "",
        "| executor | workers (x2 threads) | runs/s | p50 queue latency | p95 queue latency "
        "| POSTs took |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["throughput"]:
        lines.append(
            f"| {row['executor']} | {row['workers']} | {row['runs_per_second']:.2f} "
            f"| {row['latency_p50']:.2f} s | {row['latency_p95']:.2f} s "
            f"| {row['post_seconds']:.1f} s |")
    if results.get("lake"):
        local, s3 = results["lake"]
        lines += [
            "",
            f"**Lake**: the table window of {local['rows']:,} rows, embedded server.",
            "",
            "| lake | seconds | peak RSS |",
            "|---|---|---|",
            f"| local folder | {local['seconds']:.2f} | {local['peak_rss'] / 2**20:.0f} MiB |",
            f"| S3 (moto on loopback) | {s3['seconds']:.2f} | {s3['peak_rss'] / 2**20:.0f} MiB |",
            "",
            f"S3 / local: **{s3['seconds'] / local['seconds']:.2f}x**.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--lake-rows", type=int, default=5_000_000,
                        help="rows of the lake comparison's window (0: skip it)")
    args = parser.parse_args()
    from cryptography.fernet import Fernet

    KEYS["secret_keys"] = Fernet.generate_key().decode()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"), "runs": args.runs,
        "load_start": " / ".join(f"{x:.2f}" for x in os.getloadavg()), "throughput": []}
    data.ensure_database()
    data.ensure_table(args.runs * ROWS_PER_RUN)
    for executor, workers in [("local", 2), *(("celery", n) for n in args.workers)]:
        log(f"throughput: {executor} x{workers}")
        results["throughput"].append(throughput(executor, workers, args.runs))
        log(f"  {results['throughput'][-1]}")
    if args.lake_rows:
        data.ensure_table(args.lake_rows)
        moto, uri, options = s3_lake()
        try:
            log("lake: local")
            local = lake_window(args.lake_rows, str(WORK / "lake"), None)
            log(f"  {local}")
            log("lake: s3")
            s3 = lake_window(args.lake_rows, uri, options)
            log(f"  {s3}")
        finally:
            moto.stop()
        results["lake"] = [local, s3]
    results["ended"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "scale_out.json").write_text(json.dumps(results, indent=2))
    markdown = report(results)
    print(markdown)
    text = README.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        README.write_text(f"{head}{START}\n{markdown}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
