"""The benchmark's Markdown report: tables per scenario and the issue's targets, met or
missed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MIB = 2**20


def _find(results: list[dict[str, Any]], prefix: str) -> dict[str, Any] | None:
    return next((r for r in results if r["name"].startswith(prefix)), None)


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
        bare = _find(t["results"], "bare:")
        sluice = _find(t["results"], "Sluice")
        dlt = _find(t["results"], "dlt")
        out += [f"### 1. Table window ({t['rows']:,} rows, one window covering the table)", ""]
        out += _data_table(t["results"], bare)
        out += ["", f"Load average after: {t['load_after']}.", ""]
        if bare and sluice and dlt:
            tr = sluice["seconds"] / bare["seconds"]
            targets += [
                ("Table window: Sluice within 1.3x bare wall time", f"{tr:.2f}x", tr <= 1.3),
                ("Table window: Sluice at least 4x faster than dlt",
                 f"{dlt['seconds'] / sluice['seconds']:.1f}x",
                 dlt["seconds"] / sluice["seconds"] >= 4),
                ("Table window: Sluice peak RSS within 1.5x bare",
                 f"{sluice['peak_rss'] / bare['peak_rss']:.2f}x",
                 sluice["peak_rss"] / bare["peak_rss"] <= 1.5),
            ]
    if "files" in report:
        f = report["files"]
        bare = _find(f["results"], "bare:")
        sluice = _find(f["results"], "Sluice")
        dlt = _find(f["results"], "dlt")
        out += [f"### 2. File window ({f['files']} CSV files, {f['rows']:,} rows)", ""]
        out += _data_table(f["results"], bare)
        out += ["", f"Load average after: {f['load_after']}.", ""]
        if bare and sluice and dlt:
            fr = sluice["seconds"] / bare["seconds"]
            targets += [
                ("File window: Sluice within 1.3x bare wall time", f"{fr:.2f}x", fr <= 1.3),
                ("File window: Sluice at least 20x faster than dlt",
                 f"{dlt['seconds'] / sluice['seconds']:.1f}x",
                 dlt["seconds"] / sluice["seconds"] >= 20),
            ]
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
