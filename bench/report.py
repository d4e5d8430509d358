"""The benchmark's Markdown report: tables per scenario and the issue's targets, met or
missed."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

MIB = 2**20


def _find(results: list[dict[str, Any]], prefix: str) -> dict[str, Any] | None:
    return next((r for r in results if r["name"].startswith(prefix)), None)


def _fastest(results: list[dict[str, Any]], prefix: str) -> dict[str, Any] | None:
    """The quickest of the rows named `prefix...` (Sluice at each parallelism)."""
    rows = [r for r in results if r["name"].startswith(prefix)]
    return min(rows, key=lambda r: r["seconds"]) if rows else None


def _runs(result: dict[str, Any]) -> str:
    return str(len(result.get("samples", [])) or 1)


def _data_table(results: list[dict[str, Any]], bare: dict[str, Any] | None) -> list[str]:
    lines = [
        "| contender | runs | wall s (median) | rows/s | peak RSS MiB | CPU s | x bare time "
        "| x bare RSS | RSS before data moves MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio_t = f"{r['seconds'] / bare['seconds']:.2f}" if bare else "-"
        ratio_m = f"{r['peak_rss'] / bare['peak_rss']:.2f}" if bare else "-"
        cpu = f"{r['cpu']:.1f}" if r.get("cpu") is not None else "-"
        idle = f"{r['baseline_rss'] / MIB:,.0f}" if r.get("baseline_rss") else "-"
        lines.append(
            f"| {r['name']} | {_runs(r)} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} "
            f"| {r['peak_rss'] / MIB:,.0f} | {cpu} | {ratio_t} | {ratio_m} | {idle} |"
        )
    return lines


def _mark(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _window_section(part: dict[str, Any], title: str) -> list[str]:
    """A window benchmark's heading, its results table and the load after it."""
    bare = _find(part["results"], "bare:")
    return [title, "", *_data_table(part["results"], bare), "",
            f"Load average after: {part['load_after']}.", ""]


def _window_targets(part: dict[str, Any], label: str, *, dlt_factor: int,
                    with_rss: bool) -> list[tuple[str, str, bool | None]]:
    """Sluice against bare reads (wall time, and peak RSS if `with_rss`) and against dlt."""
    bare = _find(part["results"], "bare:")
    sluice = _fastest(part["results"], "Sluice")
    dlt = _find(part["results"], "dlt")
    if not (bare and sluice and dlt):
        return []
    ratio = sluice["seconds"] / bare["seconds"]
    speedup = dlt["seconds"] / sluice["seconds"]
    targets: list[tuple[str, str, bool | None]] = [
        (f"{label}: Sluice within 1.3x bare wall time", f"{ratio:.2f}x", ratio <= 1.3),
        (f"{label}: Sluice at least {dlt_factor}x faster than dlt", f"{speedup:.1f}x",
         speedup >= dlt_factor),
    ]
    if with_rss:
        rss = sluice["peak_rss"] / bare["peak_rss"]
        targets.append((f"{label}: Sluice peak RSS within 1.5x bare", f"{rss:.2f}x", rss <= 1.5))
    return targets


def _second_round_targets(report: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """Issue 15's targets that the scenarios measure: the fastest Sluice row against the
    floor (tables) or bare (files), table memory against bare, run overhead and the list
    latency (its POST target sits with the control plane's rows; the idle server's RSS is
    measured on its own, section "Idle server": the RSS column here is the server's after
    the flow was made through the API, connectors loaded)."""
    targets: list[tuple[str, str, bool | None]] = []
    if "table" in report:
        results = report["table"]["results"]
        floor, bare = _find(results, "floor:"), _find(results, "bare:")
        sluice = _fastest(results, "Sluice")
        if floor and bare and sluice:
            to_floor = sluice["seconds"] / floor["seconds"]
            rss = min(r["peak_rss"] for r in results if r["name"].startswith("Sluice"))
            targets += [
                ("Second round: table window, Sluice at most 1.25x the floor",
                 f"{to_floor:.2f}x", to_floor <= 1.25),
                ("Second round: table window, Sluice peak RSS at most 1.0x bare",
                 f"{rss / bare['peak_rss']:.2f}x", rss <= bare["peak_rss"]),
            ]
    if "files" in report:
        results = report["files"]["results"]
        bare, sluice = _find(results, "bare:"), _fastest(results, "Sluice")
        if bare and sluice:
            ratio = sluice["seconds"] / bare["seconds"]
            targets.append(("Second round: file window, Sluice at most 0.9x bare",
                            f"{ratio:.2f}x", ratio <= 0.9))
    if "overhead" in report:
        median = report["overhead"]["median"]
        targets.append(("Second round: 100-row run overhead at most 50 ms (median of 20)",
                        f"{median * 1000:.0f} ms", median <= 0.05))
    if "control" in report:
        for c in report["control"]["results"]:
            if c["store"] == "postgresql" and "list" in c and int(c.get("api_processes", 1)) == 1:
                p50 = c["list"]["p50_ms"]
                targets.append(("Second round: GET /runs?property=flowId==X p50 at most 3 ms "
                                "(PostgreSQL, 100k runs)", f"{p50:.2f} ms", p50 <= 3))
    return targets


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        f"Scale `{report['scale']}`, run {report['started']} to {report.get('finished', '?')} "
        f"on {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM; Python "
        f"{m['python']}, pyarrow {m['pyarrow']}, deltalake {m['deltalake']}, "
        f"adbc-driver-postgresql {m['adbc_driver_postgresql']}, dlt {m['dlt']}, "
        f"PostgreSQL {m['postgresql']}; Sluice at commit {m.get('sluice_commit', '?')} "
        "(plus whatever the work tree held then).",
        "",
        f"Load average (1/5/15 min) at the start: {report['load_before']}; at the end: "
        f"{report.get('load_after', '?')}. Each run's own starting load is in "
        "`bench/.data/results/<scale>.json`.",
        "",
    ]
    if report.get("rerun"):
        out += [f"({report['rerun']}.)", ""]
    targets: list[tuple[str, str, bool | None]] = []
    if "table" in report:
        t = report["table"]
        out += _window_section(t, f"### 1. Table window ({t['rows']:,} rows, one window "
                                  "covering the table)")
        targets += _window_targets(t, "Table window", dlt_factor=4, with_rss=True)
    if "files" in report:
        f = report["files"]
        out += _window_section(f, f"### 2. File window ({f['files']} CSV files, "
                                  f"{f['rows']:,} rows)")
        targets += _window_targets(f, "File window", dlt_factor=20, with_rss=False)
    if "memory" in report:
        res = report["memory"]["results"]
        first = res[0]["peak_rss"]
        out += ["### 3. Memory scaling (Sluice, table window; serve process VmHWM)", "",
                "| rows | runs | wall s | peak RSS MiB | vs smallest | idle server RSS MiB |",
                "|---:|---:|---:|---:|---:|---:|"]
        for r in res:
            out.append(f"| {r['name']} | {_runs(r)} | {r['seconds']:.2f} | "
                       f"{r['peak_rss'] / MIB:,.0f} | {r['peak_rss'] / first:.2f}x | "
                       f"{(r.get('baseline_rss') or 0) / MIB:,.0f} |")
        idle = report["memory"].get("idle_rss")
        if idle:
            median_idle = statistics.median(idle)
            out += ["", f"Idle `sluice serve --no-demo` on the embedded defaults (fresh data "
                    f"folder), VmRSS 2 s after it answers: {median_idle / MIB:,.0f} MiB "
                    f"(median of {len(idle)} starts: "
                    f"{', '.join(f'{r / MIB:,.0f}' for r in idle)})."]
            targets.append(("Second round: idle `sluice serve` RSS at most 150 MiB",
                            f"{median_idle / MIB:,.0f} MiB", median_idle <= 150 * MIB))
        out += ["", f"Load average after: {report['memory']['load_after']}.", ""]
        growth = res[-1]["peak_rss"] / first
        targets.append((f"Memory: peak RSS at {res[-1]['name']} at most 20% above "
                        f"{res[0]['name']}", f"+{(growth - 1) * 100:.0f}%", growth <= 1.2))
    if "overhead" in report:
        o = report["overhead"]
        out += ["### 4. Run overhead (100-row on-demand run, POST /runs to success, 20 runs)",
                "",
                "| median s | p90 s | min s | max s | server-side median s (startedAt to "
                "completedAt) |",
                "|---:|---:|---:|---:|---:|",
                f"| {o['median']:.3f} | {o['p90']:.3f} | {o['min']:.3f} | {o['max']:.3f} | "
                f"{o['server_median']:.3f} |", "",
                f"Load average after: {o['load_after']}.", ""]
        targets.append(("Run overhead: median under 0.5 s", f"{o['median']:.3f} s",
                        o["median"] < 0.5))
    if "control" in report:
        out += ["### 5. Control plane (wrk, 1 thread, loopback, 10 s per measurement; "
                "POST and tick: medians of the runs)", "",
                "| metadata | stored runs | POST /runs req/s (4 conn / 16 conn) | "
                "POST p50 / p99 ms (4 conn) | "
                "list p50 / p99 ms (1 conn) | list req/s (4 conn) | list p50 ms (4 conn) | "
                "scheduler tick s (runs created) | idle tick s |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        best_pg = None
        for c in report["control"]["results"]:
            p = c["post"]
            wide = c.get("post_wide") or {"rps": 0.0}
            best = max(p["rps"], wide["rps"])
            processes = int(c.get("api_processes", 1))
            store = c["store"] if processes == 1 else f"{c['store']} ({processes} API processes)"
            posts = (f"| {store} | {c['stored_runs']:,} | {p['rps']:.0f} / {wide['rps']:.0f} | "
                     f"{p['p50_ms']:.1f} / {p['p99_ms']:.1f} |")
            if "tick" not in c:  # POST only (another count of API processes)
                out.append(posts + " - | - | - | - | - |")
            else:
                li, ll, tk = c["list"], c["list_loaded"], c["tick"]
                out.append(
                    f"{posts} {li['p50_ms']:.1f} / {li['p99_ms']:.1f} | {ll['rps']:.0f} | "
                    f"{ll['p50_ms']:.1f} | {tk['seconds']:.2f} ({tk['created']:,}) | "
                    f"{tk['idle_seconds']:.2f} |")
            if "bare_post" in c:  # the bare FastAPI + SQLAlchemy endpoint, in the same turns
                bare, bare_wide = c["bare_post"], c["bare_post_wide"]
                out.append(f"| bare FastAPI + SQLAlchemy insert | - | {bare['rps']:.0f} / "
                           f"{bare_wide['rps']:.0f} | {bare['p50_ms']:.1f} / "
                           f"{bare['p99_ms']:.1f} | - | - | - | - | - |")
                ratio = min(p["rps"] / bare["rps"], wide["rps"] / bare_wide["rps"])
                targets.append(("POST /runs (PostgreSQL, 1 API process) at least 0.7x the bare "
                                "endpoint (the lower of 4 and 16 connections)",
                                f"{p['rps'] / bare['rps']:.2f}x / "
                                f"{wide['rps'] / bare_wide['rps']:.2f}x", ratio >= 0.7))
            if c["store"] == "postgresql":
                if best_pg is None or best > best_pg[0]:
                    best_pg = (best, processes)
                if "tick" in c:
                    targets += [
                        ("Control plane (PostgreSQL): list p50 under 20 ms",
                         f"{li['p50_ms']:.1f} ms", li["p50_ms"] < 20),
                        ("Scheduler tick for 10,000 minute flows under 2 s (PostgreSQL)",
                         f"{tk['seconds']:.2f} s ({tk['created']:,} flows)", tk["seconds"] < 2),
                    ]
            elif "tick" in c:
                targets.append(("Scheduler tick for 10,000 minute flows under 2 s (SQLite)",
                                f"{tk['seconds']:.2f} s ({tk['created']:,} flows)",
                                tk["seconds"] < 2))
        if best_pg is not None:
            rps, processes = best_pg
            targets.append(("Control plane (PostgreSQL): POST /runs at least 300 req/s "
                            "(the best of 4 and 16 connections and the API process counts)",
                            f"{rps:.0f} req/s ({processes} API process"
                            f"{'es' if processes > 1 else ''})", rps >= 300))
        out += ["", f"Load average after: {report['control']['load_after']}.", ""]
    targets += _second_round_targets(report)
    if targets:
        out += ["### Targets", "", "| target | measured | |", "|---|---:|---|"]
        out += [f"| {name} | {value} | {_mark(bool(ok))} |" for name, value, ok in targets]
        out.append("")
    return "\n".join(out)


def write_readme(readme: Path, markdown_text: str, start: str, end: str) -> None:
    text = readme.read_text()
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    readme.write_text(f"{head}{start}\n{markdown_text}\n{end}{tail}")
