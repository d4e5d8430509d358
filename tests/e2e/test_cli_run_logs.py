"""`sluice runs logs ID [--follow]` against a real `sluice serve`: following a run from before
it starts to its end, with the exit status telling success from failure."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from e2e_flows import postgres_table_flow
from processes import (
    ServerProcess,
    client_for,
    pg_source,
    run_cli,
    sluice_env,
    source_table,
)

pytestmark = pytest.mark.e2e

DAY = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def table() -> Iterator[str]:
    with source_table("e2e_cli_logs") as name:
        pg_source(f"CREATE TABLE {name} (id integer PRIMARY KEY, updated_at timestamptz)")
        pg_source(f"INSERT INTO {name} VALUES (1, '2024-05-01 01:00Z'),"
                  " (2, '2024-05-01 02:00Z')")
        yield name


def test_follow_prints_the_log_until_the_run_ends_and_exits_with_its_outcome(
    server: ServerProcess, table: str
) -> None:
    env = sluice_env(server.data_dir, url=server.url)
    with client_for(server) as client:
        flow = postgres_table_flow(client, table).flow_id
        # Scheduled a moment ahead: the follower starts before the run does.
        run = client.runs.create(flow, window_start=DAY, window_end=DAY + 86_400,
                                 start_time=int(time.time()) + 2, delta_column="updated_at").id

    followed = run_cli("runs", "logs", run, "--follow", env=env)
    assert followed.returncode == 0, followed.stdout + followed.stderr
    lines = followed.stdout.splitlines()
    assert any(" plan " in line and f"table {table}" in line for line in lines), followed.stdout
    assert any("Run succeeded: 2 records read" in line for line in lines), followed.stdout
    assert lines[-1] == f"Run {run} ended: success"
    assert lines[0].startswith("20") and "  INFO     claim    Attempt 1" in lines[0]

    as_json = run_cli("runs", "logs", run, "--output", "json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    entries = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[-1]["stage"] == "end" and entries[-1]["counters"]["recordsRead"] == 2

    with client_for(server) as client:  # a run that does not succeed: exit status 1
        doomed = client.runs.create(flow, window_start=DAY, window_end=DAY + 86_400,
                                    start_time=int(time.time()) + 3600).id
        client.runs.cancel(doomed)
    cancelled = run_cli("runs", "logs", doomed, "--follow", env=env)
    assert cancelled.returncode == 1, cancelled.stdout + cancelled.stderr
    assert cancelled.stdout.splitlines()[-1] == f"Run {doomed} ended: cancelled"

    missing = run_cli("runs", "logs", "00000000-0000-0000-0000-000000000000", env=env)
    assert missing.returncode == 1
    assert len(missing.stderr.strip().splitlines()) == 1 and "404" in missing.stderr

    # A usage error is one line on stderr as well, naming the command's help (exit status 2).
    usage = run_cli("runs", "list", "--limit", "x", env=env)
    assert usage.returncode == 2
    assert usage.stderr.strip().splitlines() == [
        "Error: Invalid value for '--limit' / '-l': Input should be a valid integer, unable to "
        "parse string as an integer (see 'sluice runs list --help')"
    ]
