"""`sluice backfills ...` against a live server with the demo: the dry-run plan in ISO 8601
UTC, create, list, show, pause, resume, cancel and retry, and one-line coded errors."""

from __future__ import annotations

import pytest
from cli_harness import Cli, remote_cli
from live_server import LiveServer
from sqlalchemy import select, update

from sluice.client import SluiceClient
from sluice.demo.provision import EVENTS_FLOW
from sluice.store.backfill_dispatch import advance_running_backfills
from sluice.store.clock import now_ms
from sluice.store.db import make_engine, make_session_factory, transaction
from sluice.store.models import Run

WINDOW = ("--window-start", "2024-05-01T06:00:00Z", "--window-end", "2024-05-04")


@pytest.fixture
def remote(server: LiveServer) -> Cli:
    """The conftest's `remote`, wide: whole ids and times in the tables."""
    return remote_cli(server, COLUMNS="200")


@pytest.fixture
def events_flow(server: LiveServer) -> str:
    c = server.credentials
    with SluiceClient(server.url, c.org_id, c.client_id, c.client_secret) as client:
        return str(client.flows.list(property=[f'name=="{EVENTS_FLOW}"'])[0]["id"])


def _end_chunk_runs(server: LiveServer, backfill_id: str, failing_chunk: int) -> None:
    """Stand in for the workers: every chunk run ends (one of them failed), then a
    scheduler pass."""
    engine = make_engine(server.settings.resolved_database_url)
    sessions = make_session_factory(engine)
    try:
        for _ in range(3):
            with transaction(sessions) as session:
                runs = session.execute(
                    select(Run.id, Run.backfill_chunk).where(
                        Run.backfill_id == backfill_id, Run.status == "scheduled"
                    )
                ).all()
                for run_id, chunk in runs:
                    status = "failed" if chunk == failing_chunk else "success"
                    session.execute(
                        update(Run)
                        .where(Run.id == run_id)
                        .values(status=status, completed_at=now_ms())
                        .execution_options(synchronize_session=False)
                    )
            advance_running_backfills(sessions, now_s=now_ms() // 1000)
    finally:
        engine.dispose()


def test_dry_run_prints_the_chunks_in_iso_utc_and_creates_nothing(
    remote: Cli, events_flow: str
) -> None:
    result = remote.run("backfills", "create", "--flow", events_flow, *WINDOW, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "3 chunk(s) of 1 day(s)" in result.stdout
    for bound in ("2024-05-01T06:00:00Z", "2024-05-02T00:00:00Z", "2024-05-04T00:00:00Z"):
        assert bound in result.stdout
    plan = remote.json("backfills", "create", "--flow", events_flow, *WINDOW, "--dry-run")
    assert [c["windowStartTime"] for c in plan["chunks"]] == [1714543200, 1714608000, 1714694400]
    assert remote.json("backfills", "list") == []


def test_create_list_show_pause_resume_cancel(remote: Cli, events_flow: str) -> None:
    created = remote.json(
        "backfills", "create", "--flow", events_flow, *WINDOW, "--parallelism", "2"
    )
    backfill_id = created["id"]
    listed = remote.json("backfills", "list", "--flow", events_flow)
    assert [b["id"] for b in listed] == [backfill_id]
    table = remote.run("backfills", "list")
    assert backfill_id in table.stdout and "2024-05-01T06:00:00Z" in table.stdout
    shown = remote.run("backfills", "show", backfill_id)
    assert shown.exit_code == 0, shown.output
    assert "running" in shown.stdout and "planned 1" in shown.stdout

    assert remote.run("backfills", "pause", backfill_id).exit_code == 0
    assert remote.json("backfills", "show", backfill_id)["status"] == "paused"
    again = remote.run("backfills", "pause", backfill_id)
    assert again.exit_code == 1
    assert "FLOW-2304-409" in again.stderr and again.stderr.count("\n") <= 2
    assert remote.run("backfills", "resume", backfill_id).exit_code == 0
    assert remote.run("backfills", "cancel", backfill_id).exit_code == 0
    assert remote.json("backfills", "show", backfill_id)["status"] == "cancelled"


def test_retry_runs_the_failed_chunk_again(
    remote: Cli, server: LiveServer, events_flow: str
) -> None:
    window = ("--window-start", "2024-06-01", "--window-end", "2024-06-04")
    backfill_id = remote.json(
        "backfills", "create", "--flow", events_flow, *window, "--parallelism", "3"
    )["id"]
    _end_chunk_runs(server, backfill_id, failing_chunk=2)
    assert remote.json("backfills", "show", backfill_id)["status"] == "failed"
    result = remote.run("backfills", "retry", backfill_id)
    assert result.exit_code == 0, result.output
    chunks = remote.json("backfills", "show", backfill_id)["chunks"]
    assert [len(c["runs"]) for c in chunks] == [1, 1, 2]
    assert [c["status"] for c in chunks] == ["succeeded", "succeeded", "running"]


def test_bad_input_is_one_coded_line(remote: Cli, events_flow: str) -> None:
    result = remote.run(
        "backfills", "create", "--flow", events_flow, *WINDOW, "--unit", "fortnight"
    )
    assert result.exit_code == 1
    assert "FLOW-2301-400" in result.stderr
    missing = remote.run("backfills", "show", "no-such-backfill")
    assert missing.exit_code == 1 and "FLOW-1439-404" in missing.stderr
