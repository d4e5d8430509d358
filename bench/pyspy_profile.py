"""Where a Sluice run spends its time: py-spy samples the `sluice serve` process during one
on-demand run (table or file window), or during a wrk POST /runs load.

Usage: python bench/pyspy_profile.py table|files|post|overhead [--rows N] [--native]
(`overhead`: the run-overhead scenario, 20 runs of 100 rows one after the other)
(needs `pip install py-spy` in the same venv; writes bench/.data/profile-<what>.txt with
the collapsed stacks and prints the hottest frames, inclusive and exclusive.)
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import data
from common import (
    CSV_WINDOW,
    DATA_DIR,
    OVERHEAD_ROWS,
    OVERHEAD_RUNS,
    SCALES,
    csv_dir,
    py_spy,
    table_name,
    window_epochs,
)
from sluice_proc import (
    csv_flow,
    postgres_flow,
    provision_client,
    run_body,
    sluice_env,
    start_server,
    timed_run,
)

PY_SPY = py_spy()


def summarize(collapsed: Path, top: int = 25) -> str:
    """Hottest frames: inclusive (anywhere on the stack) and exclusive (leaf) shares."""
    inclusive: collections.Counter[str] = collections.Counter()
    exclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
                  + ")" if " (" in f else f for f in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        exclusive[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "exclusive (leaf):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in exclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("table", "files", "post", "overhead"))
    parser.add_argument("--rows", type=int, default=SCALES["full"]["table_rows"])
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--gil", action="store_true",
                        help="sample only the thread holding the GIL (where CPU goes)")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL metadata (post only)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (post only)")
    args = parser.parse_args()
    home = DATA_DIR / "work" / f"profile-{args.what}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    extra = ("--no-workers", "--no-scheduler") if args.what == "post" else ()
    settings: dict[str, str] = {"local_file_roots": str(DATA_DIR)}
    credentials = None
    if args.pg:
        import secrets

        from cryptography.fernet import Fernet

        import control_plane

        control_plane.fresh_pg_database()
        settings.update(database_url=control_plane.database_url("postgresql", home),
                        secret_keys=Fernet.generate_key().decode(),
                        token_signing_key=secrets.token_hex(32))
        credentials = provision_client(sluice_env(home, **settings), home / "credentials.json")
    server = start_server(home, sluice_env(home, **settings), *extra)
    out = DATA_DIR / f"profile-{args.what}{'-pg' if args.pg else ''}.txt"
    if args.what == "post" and args.connections != 4:
        out = out.with_name(f"{out.stem}-c{args.connections}.txt")
    try:
        with server.client(credentials) as client:
            if args.what == "files":
                scale = SCALES["full"]
                flow, _ = csv_flow(client, csv_dir(int(scale["csv_files"]), int(scale["csv_rows"])))
                body = run_body(flow, CSV_WINDOW[0], CSV_WINDOW[1], None)
            elif args.what == "overhead":
                flow, _ = postgres_flow(client, data.ensure_overhead_table())
                start, _end = window_epochs(0)
                timed_run(client, run_body(flow, start, start + OVERHEAD_ROWS, "event_at"),
                          poll=0.05)  # warm-up, as in the scenario
            else:
                table = table_name(args.rows) if args.what == "table" else \
                    data.ensure_overhead_table()
                flow, _ = postgres_flow(client, table)
                start, end = window_epochs(args.rows)
                body = run_body(flow, start, end, "event_at")
            spy = subprocess.Popen(
                [PY_SPY, "record", "--pid", str(server.pid), "--format", "raw", "--rate", "200",
                 "--output", str(out), *(["--native"] if args.native else []),
                 *(["--gil"] if args.gil else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            if args.what == "post":
                import control_plane

                headers = client._headers(client.fetch_token(), None)
                client.post("runs", body)  # the first run sets the flow's delta column
                result = control_plane.wrk(
                    f"{server.url}/data/foundation/flowservice/runs", headers, home, "post",
                    method="POST", body=run_body(flow, start, start + 60, None),
                    connections=args.connections)
                print(f"POST /runs: {result}")
            elif args.what == "overhead":
                seconds = []
                for i in range(1, OVERHEAD_RUNS + 1):
                    lower = start + i * OVERHEAD_ROWS
                    sample = timed_run(client, run_body(flow, lower, lower + OVERHEAD_ROWS, None),
                                       poll=0.05)
                    seconds.append(sample["seconds"])
                print(f"runs: median {sorted(seconds)[len(seconds) // 2] * 1000:.0f} ms")
            else:
                print(timed_run(client, body, poll=0.2, server=server))
            spy.send_signal(2)
            spy.wait(timeout=60)
    finally:
        server.stop()
    print(summarize(out))


if __name__ == "__main__":
    main()
