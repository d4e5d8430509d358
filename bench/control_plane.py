"""Control plane: POST /runs and GET /runs?property=flowId==X with many runs stored, driven by
wrk from a second process, on SQLite and on PostgreSQL metadata; and one scheduler tick. On
PostgreSQL, POST /runs is measured in turns with a bare FastAPI + SQLAlchemy insert endpoint
(contenders/bare_post_api.py), with the same wrk settings and body.

`python bench/control_plane.py list|post` runs one part alone (see --help); with
`--baseline PYTHONPATH` a second Sluice server runs other code (say, an older checkout) on
the same store, measured in turns with this one.

The server runs with `--no-workers --no-scheduler`: the API alone is measured (created runs
stay scheduled). The stored runs, the extra flows and the scheduler's flows are inserted
straight into the metadata store (rows built by `sluice.store.runs.run_row`, as the API and
the scheduler build them), which is much faster than creating them over HTTP.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

import data
from common import BASE_EPOCH, PG_ADMIN_DSN, PG_HOST, PG_PORT, PG_USER, py_spy
from sluice.domain.schedule import parse_schedule
from sluice.domain.windows import Window
from sluice.engine.scheduler import next_tick_at
from sluice.store.db import make_engine, make_session_factory
from sluice.store.models import Flow, Run
from sluice.store.runs import NewRun, run_row
from sluice_proc import (
    Server,
    cpu_seconds,
    free_port,
    launch,
    postgres_flow,
    provision_client,
    run_body,
    sluice_env,
    start_server,
)

# The metadata database of the PostgreSQL runs: its own database, recreated per measurement
# (Sluice refuses connections that read its own metadata database, and the flows read
# `sluice_bench`).
PG_META_DB = "sluice_bench_meta"
FLOWS_WITH_RUNS = 100
WRK_SECONDS = 10
WRK_CONNECTIONS = 4
MINUTE_INTERVAL = 15  # the smallest interval of a `minute` schedule
_FLOWS = Table  # for type checkers


def database_url(store: str, home: Path) -> str:
    if store == "sqlite":
        return f"sqlite:///{home / 'sluice.db'}"
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_META_DB}"


def fresh_pg_database() -> None:
    data.ensure_database()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_META_DB}" WITH (FORCE)')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{PG_META_DB}"')  # type: ignore[arg-type]


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def clone_flows(session: Session, flow: Flow, count: int,
                schedule: dict[str, Any] | None = None) -> list[Flow]:
    """`count` copies of `flow` (new ids), optionally with another schedule (and then the
    `next_tick_at` the API would have given a flow created with it)."""
    template = _columns(flow)
    if schedule is not None:
        template["next_tick_at"] = next_tick_at(parse_schedule(schedule, now=0),
                                                last_created=None)
    rows = []
    for index in range(count):
        row = dict(template)
        row["id"] = str(uuid.uuid4())
        row["name"] = f"{flow.name} #{index}"
        row["etag"] = uuid.uuid4().hex
        row["last_run_id"] = row["last_run_status"] = None
        row["last_run_started_at"] = row["last_run_completed_at"] = None
        if schedule is not None:
            row["doc"] = {**row["doc"], "scheduleParams": schedule}
        rows.append(row)
    for start in range(0, len(rows), 1000):
        session.execute(insert(Flow), rows[start:start + 1000])
    return [Flow(**row) for row in rows]


def store_runs(session: Session, flows: list[Flow], total: int) -> None:
    """`total` finished-looking runs spread evenly over `flows`, created over past days."""
    now_ms = int(time.time() * 1000)
    rows = []
    for index in range(total):
        flow = flows[index % len(flows)]
        lower = BASE_EPOCH + index * 60
        row = run_row(flow, NewRun(origin="onDemand", start_at=lower // 1,
                                   window=Window(lower, lower + 60), delta_column="event_at"),
                      actor="bench")
        row["created_at"] = row["updated_at"] = now_ms - (total - index) * 1000
        rows.append(row)
        if len(rows) == 2000:
            session.execute(insert(Run), rows)
            rows = []
    if rows:
        session.execute(insert(Run), rows)


# -- wrk ----------------------------------------------------------------------------------

_LUA = """
wrk.method = "{method}"
{body}
{headers}
"""


def wrk(url: str, headers: dict[str, str], work: Path, name: str, *, method: str = "GET",
        body: dict[str, Any] | None = None, connections: int = WRK_CONNECTIONS,
        seconds: int = WRK_SECONDS) -> dict[str, float]:
    """One bounded wrk run (1 thread, `connections` connections, `seconds` s, loopback)."""
    script = work / f"{name}.lua"
    lines = "\n".join(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items())
    payload = "" if body is None else f"wrk.body = {json.dumps(json.dumps(body))}"
    if body is not None:
        lines += '\nwrk.headers["Content-Type"] = "application/json"'
    script.write_text(_LUA.format(method=method, body=payload, headers=lines))
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    )
    (work / f"{name}.txt").write_text(done.stdout + done.stderr)
    return parse_wrk(done.stdout)


def _ms(value: str) -> float:
    number = float(re.match(r"[\d.]+", value).group(0))  # type: ignore[union-attr]
    unit = value[len(re.match(r"[\d.]+", value).group(0)):]  # type: ignore[union-attr]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> dict[str, float]:
    result: dict[str, float] = {}
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["rps"] = float(found.group(1)) if found else 0.0
    for pct in ("50", "90", "99"):
        found = re.search(rf"^\s+{pct}%\s+(\S+)", output, re.MULTILINE)
        if found:
            result[f"p{pct}_ms"] = _ms(found.group(1))
    found = re.search(r"(\d+) requests in", output)
    result["requests"] = float(found.group(1)) if found else 0.0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    return result


# -- one store ----------------------------------------------------------------------------


def _median_of(samples: list[dict[str, float]]) -> dict[str, Any]:
    """Per-field medians of several wrk runs, the runs themselves kept under `samples`."""
    fields = [k for k in samples[0] if all(k in s for s in samples)]
    return {**{k: statistics.median(s[k] for s in samples) for k in fields},
            "samples": samples}


def measure_posts(targets: dict[str, str], headers: dict[str, str], body: dict[str, Any],
                  work: Path, repeat: int, tag: str, log: Callable[[str], None],
                  pids: dict[str, int] | None = None) -> dict[str, tuple[dict[str, Any], ...]]:
    """POST at 4 and 16 connections to each of `targets` (label -> URL), `repeat` times
    each, interleaved (the order of the targets swapped every round); per target, the
    medians at 4 and at 16 connections. With `pids`, the server's CPU per request too."""
    samples: dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]] = {
        label: ([], []) for label in targets}
    for i in range(repeat):
        for index, connections in enumerate((WRK_CONNECTIONS, 16)):
            order = list(targets) if (i + index) % 2 == 0 else list(reversed(targets))
            for label in order:
                pid = (pids or {}).get(label)
                cpu = cpu_seconds(pid) if pid else 0.0
                sample = wrk(targets[label], headers, work,
                             f"post{tag}-{label}-c{connections}-{i}", method="POST",
                             body=body, connections=connections)
                if pid:
                    sample["cpu_ms"] = ((cpu_seconds(pid) - cpu) * 1000
                                        / max(sample["requests"], 1.0))
                samples[label][index].append(sample)
                cpu_text = f", server CPU {sample['cpu_ms']:.2f} ms per request" if pid else ""
                log(f"  POST /runs{tag} {label} #{i + 1}: {sample['rps']:.0f} req/s, p50 "
                    f"{sample['p50_ms']:.1f} ms ({connections} connections, "
                    f"{sample['errors']:.0f} errors{cpu_text})")
    return {label: (_median_of(narrow), _median_of(wide))
            for label, (narrow, wide) in samples.items()}


def start_bare_post(database_url: str, home: Path) -> Server:
    """The bare FastAPI + SQLAlchemy insert endpoint (contenders/bare_post_api.py), on its
    own port, writing into the same PostgreSQL database as Sluice."""
    port = free_port()
    script = Path(__file__).with_name("contenders") / "bare_post_api.py"
    return launch([sys.executable, str(script), database_url, str(port)], port, home,
                  home / f"bare-post-{port}.log", "the bare POST API")


def _server_options(api_processes: int) -> list[str]:
    options = ["--no-workers", "--no-scheduler"]
    if api_processes > 1:
        options += ["--api-processes", str(api_processes)]
    return options


def fresh_store(store: str, home: Path) -> tuple[str, dict[str, str], Path | None]:
    """An empty metadata store under `home`: its URL, the server's environment and, on
    PostgreSQL, the credentials file of a provisioned client."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url = database_url(store, home)
    settings: dict[str, str] = {}
    credentials = None
    if store == "postgresql":
        fresh_pg_database()
        settings = {"database_url": url, "secret_keys": Fernet.generate_key().decode(),
                    "token_signing_key": secrets.token_hex(32)}
        credentials = provision_client(sluice_env(home, **settings), home / "credentials.json")
    return url, sluice_env(home, **settings), credentials


def measure_store(store: str, home: Path, *, stored_runs: int, scheduler_flows: int,
                  log: Callable[[str], None], repeat: int = 1,
                  api_processes: Sequence[int] = (1,)) -> list[dict[str, Any]]:
    """One metadata store: POST /runs at 4 and 16 connections `repeat` times each
    (interleaved) for each count of API processes, the list once at each concurrency (first
    count), then `repeat` scheduler ticks. One result per count of API processes."""
    url, env, credentials = fresh_store(store, home)
    first, *more = api_processes
    server = start_server(home, env, *_server_options(first))
    engine = None
    try:
        client = server.client(credentials)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        flow_id, others, stored = populate(client, sessions, stored_runs, log)
        headers = client._headers(client.fetch_token(), None)
        runs_path = "/data/foundation/flowservice/runs"
        # POSTs go to another flow, so that the listed flow keeps its 1,000 runs however
        # many runs the POSTs create.
        body = run_body(others[0].id, BASE_EPOCH, BASE_EPOCH + 60, None)
        targets = {"sluice": f"{server.url}{runs_path}"}
        pids = {"sluice": server.pid}
        if store == "postgresql":
            # The bare FastAPI + SQLAlchemy insert endpoint, measured in turns with Sluice.
            bare = start_bare_post(url, home)
            targets["bare"], pids["bare"] = f"{bare.url}{runs_path}", bare.pid
        try:
            measured = measure_posts(targets, headers, body, home, repeat, "", log, pids)
        finally:
            if store == "postgresql":
                bare.stop()
        posts = {first: measured["sluice"]}
        bare_posts = measured.get("bare")
        list_url = f"{server.url}{runs_path}?property=flowId=={flow_id}"
        listed = wrk(list_url, headers, home, "list", connections=1)
        listed_loaded = wrk(list_url, headers, home, "list-c4")
        log(f"  GET /runs?property=flowId==X: p50 {listed['p50_ms']:.1f} ms (1 connection), "
            f"{listed_loaded['rps']:.0f} req/s, p50 {listed_loaded['p50_ms']:.1f} ms "
            f"({WRK_CONNECTIONS} connections)")
        listed["items"] = float(len(client.get("runs", {"property": f"flowId=={flow_id}"})
                                    .get("items", [])))
        client.close()
    finally:
        server.stop()
    try:
        for count in more:
            server = start_server(home, env, *_server_options(count))
            try:
                posts[count] = measure_posts({"sluice": f"{server.url}{runs_path}"}, headers,
                                             body, home, repeat, f" ({count} API processes)",
                                             log)["sluice"]
            finally:
                server.stop()
        ticks = [scheduler_tick(url, sessions, flow_id, scheduler_flows, home, log)
                 for _ in range(repeat)]
    finally:
        engine.dispose()
    tick = {**{k: statistics.median(t[k] for t in ticks) for k in ("seconds", "idle_seconds")},
            "created": ticks[0]["created"], "samples": ticks}
    results = [{"store": store, "stored_runs": stored, "api_processes": first,
                "post": posts[first][0], "post_wide": posts[first][1], "list": listed,
                "list_loaded": listed_loaded, "tick": tick}]
    if bare_posts is not None:
        results[0].update(bare_post=bare_posts[0], bare_post_wide=bare_posts[1])
    results += [{"store": store, "stored_runs": stored, "api_processes": count,
                 "post": posts[count][0], "post_wide": posts[count][1]} for count in more]
    return results


def populate(client: Any, sessions: Any, stored_runs: int,
             log: Callable[[str], None]) -> tuple[str, list[Flow], int]:
    """Flow X (1,000 runs at full scale) and the other flows, `stored_runs` runs in all,
    analysed; X's id, the other flows and the count of runs stored."""
    flow_id, _dataset = postgres_flow(client, data.ensure_overhead_table())
    client.post("runs", run_body(flow_id, BASE_EPOCH, BASE_EPOCH + 60, "event_at"))
    started = time.perf_counter()
    with sessions.begin() as session:
        flow = session.get(Flow, flow_id)
        assert flow is not None
        others = clone_flows(session, flow, FLOWS_WITH_RUNS - 1)
    with sessions.begin() as session:
        store_runs(session, [flow, *others], stored_runs - 1)
    with sessions.begin() as session:
        session.execute(text("ANALYZE"))
        stored = session.execute(select(text("count(*)")).select_from(Run.__table__)).scalar()
    log(f"  stored {stored:,} runs over {FLOWS_WITH_RUNS} flows in "
        f"{time.perf_counter() - started:.1f} s")
    return flow_id, others, int(stored)


def _list_sample(server: Any, url: str, headers: dict[str, str], home: Path,
                 name: str) -> dict[str, float]:
    """One 1-connection wrk run of the list, with the server's CPU per request: steadier
    than the latency on a shared machine."""
    cpu = cpu_seconds(server.pid)
    sample = wrk(url, headers, home, name, connections=1)
    sample["cpu_ms"] = (cpu_seconds(server.pid) - cpu) * 1000 / max(sample["requests"], 1.0)
    return sample


@dataclass
class Populated:
    """Sluice servers over one populated store (see `populated`)."""

    url: str  # the metadata store's
    servers: dict[str, Server]  # "sluice" (this checkout), "baseline" if asked; yours to add
    flow_id: str  # flow X, whose runs are listed
    others: list[Flow]  # the other flows (POSTs go to one of them)
    headers: dict[str, str]  # a token's request headers


@contextmanager
def populated(store: str, home: Path, stored_runs: int, log: Callable[[str], None],
              baseline: str | None) -> Iterator[Populated]:
    """A fresh store with `stored_runs` runs, served by this checkout's API ("sluice") and,
    with `baseline` (a PYTHONPATH), by that code too ("baseline"); every server in
    `servers` is stopped on exit."""
    url, env, credentials = fresh_store(store, home)
    servers = {"sluice": start_server(home, env, *_server_options(1))}
    engine = make_engine(url)
    try:
        if baseline is not None:
            servers["baseline"] = start_server(home, {**env, "PYTHONPATH": baseline},
                                               *_server_options(1))
        with servers["sluice"].client(credentials) as client:
            flow_id, others, _stored = populate(client, make_session_factory(engine),
                                                stored_runs, log)
            headers = client._headers(client.fetch_token(), None)
        yield Populated(url, servers, flow_id, others, headers)
    finally:
        for server in servers.values():
            server.stop()
        engine.dispose()


def list_latency(store: str, home: Path, *, stored_runs: int, repeat: int,
                 log: Callable[[str], None], profile: Path | None = None,
                 baseline: str | None = None) -> dict[str, list[dict[str, float]]]:
    """Only `GET /runs?property=flowId==X` at 1 connection, `repeat` times, on a fresh store
    (`python bench/control_plane.py list`: the list latency without the rest of scenario 5).
    With `profile`, py-spy (`--gil`) samples the server during one more wrk run into it.
    With `baseline` (a PYTHONPATH), a second server runs that code on the same store and the
    two are measured in turns (A/B interleaved, the order swapped every round). Samples by
    label: "sluice" (this checkout) and "baseline"."""
    with populated(store, home, stored_runs, log, baseline) as setup:
        servers, headers = setup.servers, setup.headers
        path = f"/data/foundation/flowservice/runs?property=flowId=={setup.flow_id}"
        samples: dict[str, list[dict[str, float]]] = {label: [] for label in servers}
        for i in range(repeat):
            order = list(servers) if i % 2 == 0 else list(reversed(servers))
            for label in order:
                server = servers[label]
                sample = _list_sample(server, f"{server.url}{path}", headers, home,
                                      f"list-{label}-{i}")
                samples[label].append(sample)
                log(f"  GET /runs?property=flowId==X {label} #{i + 1}: p50 "
                    f"{sample['p50_ms']:.2f} ms, {sample['rps']:.0f} req/s, server CPU "
                    f"{sample['cpu_ms']:.2f} ms per request")
        if profile is not None:
            server = servers["sluice"]
            spy = subprocess.Popen(
                [py_spy(), "record", "--pid",
                 str(server.pid), "--format", "raw", "--rate", "500", "--gil", "--output",
                 str(profile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            wrk(f"{server.url}{path}", headers, home, "list-profiled", connections=1)
            spy.send_signal(2)
            spy.wait(timeout=60)
        return samples


def post_throughput(home: Path, *, stored_runs: int, repeat: int, log: Callable[[str], None],
                    baseline: str | None = None) -> dict[str, tuple[dict[str, Any], ...]]:
    """Only `POST /runs` on PostgreSQL metadata, Sluice (one API process) and the bare
    FastAPI + SQLAlchemy endpoint in turns, at 4 and 16 connections, `repeat` times
    (`python bench/control_plane.py post`). With `baseline` (a PYTHONPATH), a second Sluice
    server runs that code on the same store, in the same turns."""
    with populated("postgresql", home, stored_runs, log, baseline) as setup:
        servers = setup.servers
        servers["bare"] = start_bare_post(setup.url, home)
        runs_path = "/data/foundation/flowservice/runs"
        body = run_body(setup.others[0].id, BASE_EPOCH, BASE_EPOCH + 60, None)
        return measure_posts({label: f"{server.url}{runs_path}"
                              for label, server in servers.items()}, setup.headers, body,
                             home, repeat, "", log,
                             {label: server.pid for label, server in servers.items()})


def scheduler_tick(url: str, sessions: Any, flow_id: str, flows: int, home: Path,
                   log: Callable[[str], None]) -> dict[str, Any]:
    """`flows` new minute-frequency flows (interval 15, the smallest Sluice accepts), each
    with exactly one tick due; one `materialize_due_runs` in its own process, then a second
    (nothing due any more). Flows of earlier ticks stay, their next tick 15 minutes away."""
    now = int(time.time())
    period = MINUTE_INTERVAL * 60
    schedule = {"startTime": now - period - 30, "frequency": "minute",
                "interval": MINUTE_INTERVAL, "backfill": False}
    with sessions.begin() as session:
        flow = session.get(Flow, flow_id)
        clone_flows(session, flow, flows, schedule)
    result = home / "tick.json"
    subprocess.run([sys.executable, str(Path(__file__).with_name("scheduler_tick.py")), url,
                    str(now), str(result)], check=True, timeout=600)
    tick = json.loads(result.read_text())
    if tick["created"] != flows or tick["idle_created"] != 0:
        raise RuntimeError(f"the tick created {tick['created']} runs for {flows} flows")
    log(f"  scheduler tick, {flows:,} minute flows: created {tick['created']:,} runs in "
        f"{tick['seconds']:.2f} s; next tick (nothing due) {tick['idle_seconds']:.2f} s")
    return tick


if __name__ == "__main__":
    import argparse

    from common import DATA_DIR

    parser = argparse.ArgumentParser(
        description="Parts of scenario 5 alone: the list latency (list), or POST /runs "
        "against the bare FastAPI + SQLAlchemy endpoint (post).")
    parser.add_argument("what", choices=("list", "post"))
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="postgresql",
                        help="metadata store (list only; post is on PostgreSQL)")
    parser.add_argument("--runs", type=int, default=100_000, help="runs stored")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=Path,
                        help="py-spy --gil raw output of one more run (list only)")
    parser.add_argument("--baseline", metavar="PYTHONPATH",
                        help="also serve the code on this PYTHONPATH, measured in turns")
    args = parser.parse_args()
    if args.what == "post":
        posts = post_throughput(DATA_DIR / "work" / "post-postgresql", stored_runs=args.runs,
                                repeat=args.repeat, log=print, baseline=args.baseline)
        for index, connections in enumerate((WRK_CONNECTIONS, 16)):
            bare = posts["bare"][index]["rps"]
            for label, medians in posts.items():
                median = medians[index]
                cpu = f", server CPU {median['cpu_ms']:.2f} ms per request" \
                    if "cpu_ms" in median else ""
                print(f"{connections} connections, {label}: {median['rps']:.0f} req/s "
                      f"(median of {len(median['samples'])}), p50 {median['p50_ms']:.1f} ms"
                      f"{cpu}, {median['rps'] / bare:.2f}x bare")
    else:
        results = list_latency(args.store, DATA_DIR / "work" / f"list-{args.store}",
                               stored_runs=args.runs, repeat=args.repeat, log=print,
                               profile=args.profile, baseline=args.baseline)
        for label, samples in results.items():
            print(f"{label}: p50 median {statistics.median(r['p50_ms'] for r in samples):.2f} "
                  f"ms (range {min(r['p50_ms'] for r in samples):.2f}-"
                  f"{max(r['p50_ms'] for r in samples):.2f}), server CPU "
                  f"{statistics.median(r['cpu_ms'] for r in samples):.2f} ms per request")
