"""Sluice's benchmark: `python bench/run.py [--scale small|full] [--only SCENARIO ...]
[--parallelism N ...]`.

Builds (or reuses) its data under bench/.data/, runs every contender of every scenario as
its own process, prints a Markdown report and, at full scale, writes it into
bench/README.md between the `bench:results` markers. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import data
from common import (
    CSV_WINDOW,
    DATA_DIR,
    OVERHEAD_ROWS,
    OVERHEAD_RUNS,
    RESULTS_DIR,
    SCALES,
    csv_dir,
    read_result,
    table_name,
    window_epochs,
)

PY = sys.executable
DLT_PY = str(BENCH / ".venv-dlt" / "bin" / "python")
README = BENCH / "README.md"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
SCENARIOS = ("table", "files", "memory", "overhead", "control")
WORK = DATA_DIR / "work"  # Delta tables and server data dirs; wiped per measurement


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# The speed probe: a fixed pure-Python loop whose CPU time shows how fast a core of this host
# is at that moment (on a shared host it moves from minute to minute, load or not).
PROBE_LOOP = 10**6


def cpu_probe_ms() -> float:
    """CPU milliseconds of the probe loop, best of 3."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        sum(range(PROBE_LOOP))
        best = min(best, time.process_time() - started)
    return best * 1000


def load() -> str:
    """The load average, and the speed probe (the same code, slower when the host is)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}, probe {cpu_probe_ms():.1f} ms"


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# -- one contender process ----------------------------------------------------------------


def measure(cmd: list[str], result: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one contender process to its end, through `launch.py`: its peak RSS (`ru_maxrss`)
    and CPU come from `wait4` on that one process (and any child it waited for)."""
    result.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    usage_path = result.with_suffix(".rusage.json")
    log_path = result.with_suffix(".log")
    started = time.perf_counter()
    with log_path.open("wb") as out:
        done = subprocess.run(
            [PY, "-I", "-S", str(BENCH / "launch.py"), str(usage_path), *cmd],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0 or not result.exists():
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n"
                           f"{log_path.read_text()[-4000:]}")
    values = read_result(result)
    usage = json.loads(usage_path.read_text())
    return {
        "seconds": float(values["seconds"]),  # type: ignore[arg-type]
        "rows": int(values["rows"]),  # type: ignore[call-overload]
        "peak_rss": int(usage["maxrss"]),
        "cpu": float(usage["cpu"]),
        "process_seconds": wall,
        "baseline_rss": int(values.get("baseline_rss") or 0),  # type: ignore[call-overload]
    }


def repeated(n: int, name: str, once: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """`n` measurements in a row; medians of time and RSS, all samples kept."""
    return interleaved([(name, n, once)])[0]


def interleaved(
    contenders: list[tuple[str, int, Callable[[int], dict[str, Any]]]],
) -> list[dict[str, Any]]:
    """Round-robin: round i runs every contender that has an i-th run, in turn, so a change
    of the machine's load during the scenario hits every contender alike. A contender with
    fewer runs than the others runs in the middle rounds."""
    rounds = max(n for _name, n, _once in contenders)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name, _n, _once in contenders}
    for i in range(rounds):
        for name, n, once in contenders:
            first = (rounds - n) // 2
            if not first <= i < first + n:
                continue
            before = load()
            sample = once(i)
            sample["load"] = before
            samples[name].append(sample)
            log(f"  {name} #{len(samples[name])}: {sample['rows']:,} rows in "
                f"{sample['seconds']:.2f} s, peak RSS {sample['peak_rss'] / 2**20:.0f} MiB "
                f"(load {before})")
    return [_summary(name, samples[name]) for name, _n, _once in contenders]


def _summary(name: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    cpus = [s["cpu"] for s in samples if s.get("cpu") is not None]
    return {
        "name": name,
        "seconds": statistics.median(s["seconds"] for s in samples),
        "peak_rss": statistics.median(s["peak_rss"] for s in samples),
        "cpu": statistics.median(cpus) if cpus else None,
        "rows": samples[0]["rows"],
        "baseline_rss": statistics.median(s["baseline_rss"] for s in samples)
        if all(s.get("baseline_rss") for s in samples) else None,
        "samples": samples,
    }


# -- Sluice through a real server ---------------------------------------------------------


def sluice_run(
    kind: str, rows: int, *, folder: Path | None = None, tag: str = "",
    parallelism: int | None = None,
) -> dict[str, Any]:
    """A fresh `sluice serve` (embedded metadata), one flow (with that `parallelism` option,
    if any), one on-demand run measured from POST /runs to success; peak RSS is the serve
    process's VmHWM over the run."""
    from sluice_proc import csv_flow, postgres_flow, run_body, sluice_env, start_server, timed_run

    home = fresh(WORK / f"sluice-{kind}{tag}")
    env = sluice_env(home, local_file_roots=str(DATA_DIR))
    server = start_server(home, env)
    try:
        with server.client() as client:
            if kind == "table":
                flow, _dataset = postgres_flow(client, table_name(rows), parallelism)
                start, end = window_epochs(rows)
                body = run_body(flow, start, end, "event_at")
            else:
                assert folder is not None
                flow, _dataset = csv_flow(client, folder, parallelism)
                body = run_body(flow, CSV_WINDOW[0], CSV_WINDOW[1], None)
            sample = timed_run(client, body, poll=0.5, server=server)
    finally:
        server.stop()
    shutil.rmtree(home, ignore_errors=True)
    return sample


# -- scenarios ----------------------------------------------------------------------------


def sluice_label(parallelism: int | None) -> str:
    """A Sluice row's name: its flow's `parallelism` option, when the run sets one."""
    if parallelism is None:
        return "Sluice: POST /runs -> success"
    return f"Sluice, parallelism {parallelism}: POST /runs -> success"


def sluice_contenders(
    scale: dict[str, Any], n: int, kind: str, rows: int, folder: Path | None = None
) -> list[tuple[str, int, Callable[[int], dict[str, Any]]]]:
    """One Sluice contender per parallelism the benchmark compares."""
    return [
        (sluice_label(p), n,
         lambda i, p=p: sluice_run(kind, rows, folder=folder, parallelism=p, tag=f"-p{p}"))
        for p in scale["parallelism"]
    ]


def scenario_table(scale: dict[str, Any], report: dict[str, Any]) -> None:
    rows, n = int(scale["table_rows"]), int(scale["repeat"])
    log(f"Table window: {rows:,} rows, {n} run(s) per contender (load {load()})")
    out = WORK / "table"
    results = interleaved([
        ("floor: COPY binary to /dev/null (psql)", n, lambda i: measure(
            [PY, str(BENCH / "contenders/pg_floor.py"), str(rows), str(out / "floor.json")],
            out / "floor.json")),
        ("bare: ADBC -> write_deltalake", n, lambda i: measure(
            [PY, str(BENCH / "contenders/pg_bare.py"), str(rows), str(fresh(out / "bare_t")),
             str(out / "bare.json")], out / "bare.json")),
        ("bare, typed: + numeric -> decimal cast", n, lambda i: measure(
            [PY, str(BENCH / "contenders/pg_bare.py"), str(rows), str(fresh(out / "typed_t")),
             str(out / "typed.json"), "--typed"], out / "typed.json")),
        *sluice_contenders(scale, n, "table", rows),
        ("dlt: sql_table (pyarrow) -> delta", 1, lambda i: measure(
            [DLT_PY, str(BENCH / "contenders/dlt_table.py"), str(rows), str(fresh(out / "dlt")),
             str(out / "dlt.json")], out / "dlt.json")),
    ])
    shutil.rmtree(out, ignore_errors=True)
    report["table"] = {"rows": rows, "results": results, "load_after": load()}


def scenario_files(scale: dict[str, Any], report: dict[str, Any]) -> None:
    files, rows, n = int(scale["csv_files"]), int(scale["csv_rows"]), int(scale["repeat"])
    folder = csv_dir(files, rows)
    log(f"File window: {files} CSV files, {rows:,} rows, {n} run(s) (load {load()})")
    out = WORK / "files"
    results = interleaved([
        ("bare: pyarrow CSV dataset -> write_deltalake", n, lambda i: measure(
            [PY, str(BENCH / "contenders/csv_bare.py"), str(folder), str(fresh(out / "bare_t")),
             str(out / "bare.json")], out / "bare.json")),
        *sluice_contenders(scale, n, "files", rows, folder),
        ("dlt: filesystem + read_csv -> delta", 1, lambda i: measure(
            [DLT_PY, str(BENCH / "contenders/dlt_files.py"), str(folder),
             str(fresh(out / "dlt")), str(out / "dlt.json")], out / "dlt.json")),
    ])
    shutil.rmtree(out, ignore_errors=True)
    report["files"] = {"files": files, "rows": rows, "results": results, "load_after": load()}


IDLE_STARTS = 3
IDLE_SETTLE_SECONDS = 2.0


def idle_server_rss() -> list[int]:
    """VmRSS of an idle `sluice serve --no-demo` on the embedded defaults (fresh data folder,
    SQLite metadata, local lake and workers), 2 s after it first answers; one per start."""
    from sluice_proc import proc_status, sluice_env, start_server

    samples = []
    for i in range(IDLE_STARTS):
        home = fresh(WORK / f"sluice-idle-{i}")
        server = start_server(home, sluice_env(home))
        try:
            time.sleep(IDLE_SETTLE_SECONDS)
            samples.append(proc_status(server.pid)["VmRSS"])
        finally:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)
    return samples


def scenario_memory(scale: dict[str, Any], report: dict[str, Any]) -> None:
    sizes = [int(r) for r in scale["memory_rows"]]
    idle = idle_server_rss()
    log(f"Idle server: {', '.join(f'{r / 2**20:.0f}' for r in idle)} MiB")
    log(f"Memory scaling: Sluice at {', '.join(f'{r:,}' for r in sizes)} rows (load {load()})")
    results = []
    for rows in sizes:
        previous = next((r for r in report.get("table", {}).get("results", [])
                         if r["name"].startswith("Sluice") and r["rows"] == rows), None)
        if previous is not None:  # the table window's own Sluice runs, already measured
            log(f"  {rows:,} rows: reusing the table window's Sluice runs")
            results.append({**previous, "name": f"{rows:,} rows"})
            continue
        results.append(repeated(1, f"{rows:,} rows", lambda i, r=rows: sluice_run(
            "table", r, tag=f"-{r}", parallelism=scale["parallelism"][0])))
    report["memory"] = {"results": results, "idle_rss": idle, "load_after": load()}


def scenario_overhead(scale: dict[str, Any], report: dict[str, Any]) -> None:
    from sluice_proc import postgres_flow, run_body, sluice_env, start_server, timed_run

    log(f"Run overhead: {OVERHEAD_RUNS} runs of {OVERHEAD_ROWS} rows (load {load()})")
    home = fresh(WORK / "sluice-overhead")
    server = start_server(home, sluice_env(home))
    samples = []
    try:
        with server.client() as client:
            flow, _dataset = postgres_flow(client, data.ensure_overhead_table())
            start, _end = window_epochs(0)
            # One warm-up run (first connection to the source, first Delta commit).
            timed_run(client, run_body(flow, start, start + OVERHEAD_ROWS, "event_at"),
                      poll=0.05)
            for i in range(1, OVERHEAD_RUNS + 1):
                lower = start + i * OVERHEAD_ROWS
                body = run_body(flow, lower, lower + OVERHEAD_ROWS, None)
                sample = timed_run(client, body, poll=0.05)
                assert sample["rows"] == OVERHEAD_ROWS, sample
                samples.append(sample)
    finally:
        server.stop()
    seconds = sorted(s["seconds"] for s in samples)
    log(f"  median {statistics.median(seconds) * 1000:.0f} ms, min {seconds[0] * 1000:.0f} ms, "
        f"max {seconds[-1] * 1000:.0f} ms")
    report["overhead"] = {
        "median": statistics.median(seconds),
        "min": seconds[0],
        "max": seconds[-1],
        "p90": seconds[int(len(seconds) * 0.9) - 1],
        "server_median": statistics.median(s["server_seconds"] for s in samples),
        "load_after": load(),
    }
    shutil.rmtree(home, ignore_errors=True)


def scenario_control(scale: dict[str, Any], report: dict[str, Any]) -> None:
    import control_plane

    results = []
    for store in ("sqlite", "postgresql"):
        log(f"Control plane on {store}: {int(scale['stored_runs']):,} stored runs, "
            f"{int(scale['scheduler_flows']):,}-flow scheduler tick (load {load()})")
        # Several API processes only on PostgreSQL: SQLite has one writer at a time.
        processes = [1] if store == "sqlite" else [1, *scale["api_processes"]]
        results += control_plane.measure_store(
            store, WORK / f"control-{store}", stored_runs=int(scale["stored_runs"]),
            scheduler_flows=int(scale["scheduler_flows"]), log=log,
            repeat=int(scale["repeat"]), api_processes=sorted(set(processes)))
    report["control"] = {"results": results, "load_after": load()}


RUNNERS = {
    "table": scenario_table,
    "files": scenario_files,
    "memory": scenario_memory,
    "overhead": scenario_overhead,
    "control": scenario_control,
}


# -- report -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--repeat", type=int, help="runs per contender (default: the scale's)")
    parser.add_argument("--api-processes", type=int, nargs="*", default=[2],
                        help="control plane on PostgreSQL: also measure POST /runs with "
                        "`sluice serve --api-processes N` for each N (default 2)")
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 2, 4],
                        help="table and file windows: one Sluice contender per value of the "
                        "flow option `parallelism` (default 1 2 4); the memory scaling runs "
                        "at the first")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not write bench/README.md (small scale never does)")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render the last results of the scale (and, at full scale, "
                        "write them into bench/README.md) without measuring")
    args = parser.parse_args()
    if args.report_only:
        import report as render

        saved = json.loads((RESULTS_DIR / f"{args.scale}.json").read_text())
        markdown = render.markdown(saved)
        print(markdown)
        if args.scale == "full" and not args.no_readme:
            render.write_readme(README, markdown, START, END)
        return
    scale = dict(SCALES[args.scale])
    if args.repeat:
        scale["repeat"] = args.repeat
    scale["api_processes"] = args.api_processes
    scale["parallelism"] = args.parallelism
    if {"table", "files"} & set(args.only) and not Path(DLT_PY).exists():
        raise SystemExit(f"dlt's venv is missing: see {README} (Setup).")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (see bench/README.md).")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "scale": args.scale,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_before": load(),
    }
    saved = RESULTS_DIR / f"{args.scale}.json"
    if set(args.only) != set(SCENARIOS) and saved.exists():
        # Some scenarios only: keep the other scenarios' last results beside the new ones.
        previous = json.loads(saved.read_text())
        kept = {k: v for k, v in previous.items() if k in SCENARIOS and k not in args.only}
        report.update(kept)
        if kept:
            report["started"] = previous.get("started", report["started"])
            report["load_before"] = previous.get("load_before", report["load_before"])
            report["rerun"] = f"{', '.join(args.only)} re-run at {datetime.now(UTC):%H:%M} UTC"
    log(f"Building data for scale '{args.scale}' (cached under {DATA_DIR})")
    data.build(scale, args.only)
    for name in args.only:
        RUNNERS[name](scale, report)
        (RESULTS_DIR / f"{args.scale}.json").write_text(json.dumps(report, indent=2, default=str))
    report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    report["load_after"] = load()
    (RESULTS_DIR / f"{args.scale}.json").write_text(json.dumps(report, indent=2, default=str))
    import report as render

    markdown = render.markdown(report)
    (RESULTS_DIR / f"{args.scale}.md").write_text(markdown)
    print(markdown)
    if args.scale == "full" and not args.no_readme and all(k in report for k in SCENARIOS):
        render.write_readme(README, markdown, START, END)
        log(f"Wrote the results into {README}")


def machine() -> dict[str, Any]:
    import deltalake
    import pyarrow

    with open("/proc/meminfo") as handle:
        total = int(handle.readline().split()[1]) * 1024
    dlt_version = (subprocess.run([DLT_PY, "-c", "import dlt; print(dlt.__version__)"],
                                  capture_output=True, text=True, check=False).stdout.strip()
                   if Path(DLT_PY).exists() else "not installed")
    pg_version = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-U", "postgres",
                                 "-d", "postgres", "-c", "SHOW server_version"],
                                capture_output=True, text=True, check=False).stdout.strip()
    import adbc_driver_postgresql

    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(total / 2**30, 1),
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "deltalake": deltalake.__version__,
        "adbc_driver_postgresql": adbc_driver_postgresql.__version__,
        "dlt": dlt_version,
        "postgresql": pg_version,
        "sluice_commit": subprocess.run(["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True,
                                        check=False).stdout.strip(),
    }


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    main()
