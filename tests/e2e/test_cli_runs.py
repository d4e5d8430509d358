"""`sluice runs create --wait` and `sluice runs list` against a real `sluice serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from e2e_flows import create_run, postgres_table_flow
from processes import (
    ServerProcess,
    await_run,
    client_for,
    pg_source,
    run_cli,
    sluice_env,
    source_table,
)

pytestmark = pytest.mark.e2e

DAY_START = datetime(2024, 5, 1, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)
MICRO = timedelta(microseconds=1)
# id -> updated_at; the window is [2024-05-01, 2024-05-02) UTC.
ORDERS = {
    1: DAY_START - MICRO,  # out
    2: DAY_START,  # in
    3: DAY_START + timedelta(hours=12),  # in
    4: DAY_END - MICRO,  # in
    5: DAY_END,  # out
}
IN_WINDOW = 3
RUN_WINDOW = ["--window-start", "2024-05-01", "--window-end", "2024-05-02"]


@pytest.fixture
def tables() -> Iterator[tuple[str, str]]:
    with source_table("e2e_cli_orders") as orders, source_table("e2e_cli_doomed") as doomed:
        for name in (orders, doomed):
            pg_source(f"CREATE TABLE {name} (id integer PRIMARY KEY, updated_at timestamptz)")
            for order, moment in ORDERS.items():
                pg_source(f"INSERT INTO {name} VALUES (%s, %s)", [order, moment])
        yield orders, doomed


def test_runs_create_wait_succeeds_fails_with_a_code_and_runs_list_shows_them(
    server: ServerProcess, tables: tuple[str, str]
) -> None:
    # The CLI finds the server and the credentials as a user's shell would: SLUICE_URL and
    # SLUICE_DATA_DIR (whose credentials.json `sluice serve` wrote).
    env = sluice_env(server.data_dir, url=server.url)
    with client_for(server) as client:
        good = postgres_table_flow(client, tables[0]).flow_id
        doomed = postgres_table_flow(client, tables[1]).flow_id

    done = run_cli("runs", "create", "--flow", good, *RUN_WINDOW, "--delta-column", "updated_at",
                   "--wait", "--output", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads(done.stdout)
    assert run["flowId"] == good
    assert run["metrics"]["statusSummary"]["status"] == "success"
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == IN_WINDOW
    assert run["params"]["windowStartTime"] == int(DAY_START.timestamp())
    assert run["params"]["windowEndTime"] == int(DAY_END.timestamp())
    assert run["params"]["deltaColumn"] == {"name": "updated_at"}

    with client_for(server) as client:
        first = create_run(client, doomed, int(DAY_START.timestamp()), int(DAY_END.timestamp()),
                           delta_column="updated_at")
        assert await_run(client, first, [server])["metrics"]["statusSummary"]["status"] == (
            "success")
    pg_source(f"DROP TABLE {tables[1]}")
    # The flow already holds its delta column: later runs omit it.
    failed = run_cli("runs", "create", "--flow", doomed, *RUN_WINDOW, "--wait", env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    error_lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1, failed.stderr
    assert "CONNECTOR-" in error_lines[0] and tables[1] in error_lines[0], failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr

    listed = run_cli("runs", "list", "--flow", doomed, "--output", "json", env=env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    runs = json.loads(listed.stdout)
    assert [r["flowId"] for r in runs] == [doomed, doomed]
    # Newest first: the failed run, then the first one.
    assert [r["metrics"]["statusSummary"]["status"] for r in runs] == ["failed", "success"]
    assert runs[1]["id"] == first
    assert runs[0]["metrics"]["statusSummary"]["errors"][0]["code"].startswith("CONNECTOR-")
