"""`sluice runs watch`, `sluice webhooks ...`, JSON on every listing, one-line errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Cli
from live_server import LiveServer
from sqlalchemy import update
from typer.testing import CliRunner

from sluice.cli import main
from sluice.client import SluiceClient
from sluice.demo.provision import EVENTS_FLOW, ORDERS_FLOW
from sluice.store import clock
from sluice.store.db import make_engine, make_session_factory, transaction
from sluice.store.models import Run

UNREACHABLE = "http://127.0.0.1:9"
LISTINGS = (
    ("flows", "list"), ("connections", "list"), ("source-connections", "list"),
    ("target-connections", "list"), ("datasets", "list"), ("connection-specs", "list"),
    ("flow-specs", "list"), ("sandboxes", "list"), ("runs", "list"), ("webhooks", "list"),
    ("runs", "watch", "--once"),
)


@pytest.fixture
def client(server: LiveServer) -> Iterator[SluiceClient]:
    c = server.credentials
    with SluiceClient(server.url, c.org_id, c.client_id, c.client_secret) as running:
        yield running


def flow_id(client: SluiceClient, name: str) -> str:
    return str(client.flows.list(property=[f'name=="{name}"'])[0]["id"])


def set_run(server: LiveServer, run_id: str, **values: Any) -> None:
    engine = make_engine(server.settings.resolved_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            session.execute(update(Run).where(Run.id == run_id).values(**values)
                            .execution_options(synchronize_session=False))
    finally:
        engine.dispose()


def metrics(status: str, read: int, written: int) -> dict[str, Any]:
    return {"durationSummary": {"startedAtUTC": clock.now_ms() - 95_000},
            "recordSummary": {"inputRecordCount": read, "outputRecordCount": written,
                              "failedRecordCount": read - written},
            "statusSummary": {"status": status, "errors": []}}


@pytest.fixture
def moving_run(server: LiveServer, client: SluiceClient) -> Iterator[str]:
    """An events run in progress (500 read, 450 written) after a success that read 1000."""
    events = flow_id(client, EVENTS_FLOW)
    earlier = client.runs.create(events, window_start=0, window_end=10)
    set_run(server, earlier.id, status="success", started_at=1, completed_at=2,
            doc={**client.runs.get(earlier.id), "metrics": metrics("success", 1000, 1000)})
    moving = client.runs.create(events, window_start=10, window_end=20)
    set_run(server, moving.id, status="inProgress", started_at=clock.now_ms() - 95_000,
            doc={**client.runs.get(moving.id), "metrics": metrics("inProgress", 500, 450)})
    yield moving.id
    set_run(server, moving.id, status="cancelled", completed_at=clock.now_ms())


def test_watch_once_shows_runs_in_progress_with_their_records(
    remote: Cli, client: SluiceClient, moving_run: str
) -> None:
    frame = remote.run("runs", "watch", "--once")
    assert frame.exit_code == 0, frame.output
    out = frame.stdout
    assert "Runs in progress" in out and moving_run in out
    assert EVENTS_FLOW in out
    assert "500 / ~1,000" in out and "450 / 500" in out and "50" in out
    assert re.search(r"\b1m \d\ds\b", out)  # started 95 s before the fixture returned
    assert [r["id"] for r in remote.json("runs", "watch", "--once")] == [moving_run]
    orders = flow_id(client, ORDERS_FLOW)
    assert remote.json("runs", "watch", "--once", "--flow", orders) == []
    assert moving_run not in remote.run("runs", "watch", "--once", "--flow", orders).stdout


def test_watch_refreshes_until_ctrl_c(
    remote: Cli, moving_run: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr("sluice.cli.watch.time.sleep", nap)
    result = remote.run("runs", "watch", "--interval", "0.5")
    assert result.exit_code == 0, result.output
    assert naps == [0.5, 0.5, 0.5]
    # Not a terminal: one frame per refresh, as a log would want them.
    assert result.stdout.count("Runs in progress") == 3 and moving_run in result.stdout


def test_watch_shows_rows_per_second_and_a_status_line_when_a_run_ends(
    remote: Cli, server: LiveServer, client: SluiceClient, moving_run: str,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    assert re.search(r"\b5 rows/s\b", remote.run("runs", "watch", "--once").stdout)  # 500 in 95 s
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:  # the run ends between two frames
            run = client.runs.get(moving_run)
            ended = metrics("success", 500, 500)
            set_run(server, moving_run, status="success", completed_at=clock.now_ms(),
                    doc={**run, "metrics": ended})
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("sluice.cli.watch.time.sleep", nap)
    result = remote.run("runs", "watch", "--interval", "0.5")
    assert result.exit_code == 0, result.output
    assert re.search(
        rf"Run {moving_run} \({re.escape(EVENTS_FLOW)}\) ended: success after 1m \d\ds, "
        r"500 records in, 500 out, 0 failed \(\d rows/s\)", result.stdout), result.stdout


def test_watch_json_needs_once(remote: Cli) -> None:
    result = remote.run("runs", "watch", "--output", "json")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: --output json prints one frame: add --once"]


def test_webhooks_create_list_deliveries_delete(remote: Cli, client: SluiceClient) -> None:
    created = remote.json("webhooks", "create", "https://hooks.example.com/ops",
                          "--event", "flow_run_failed", "--name", "ops")
    assert len(created["secret"]) >= 32  # generated, shown this once
    listed = remote.json("webhooks", "list")
    assert [w["id"] for w in listed] == [created["id"]]
    assert listed[0]["events"] == ["flow_run_failed"] and created["secret"] not in str(listed)
    assert remote.json("webhooks", "deliveries", created["id"]) == []
    shown = remote.run("webhooks", "show", created["id"])
    assert shown.exit_code == 0 and "hooks.example.com" in shown.stdout
    table = remote.run("webhooks", "list")
    assert table.exit_code == 0 and created["id"] in table.stdout  # ids stay whole

    given = remote.run("webhooks", "create", "https://hooks.example.com/all",
                       "--secret", "a-secret-given-by-the-user")
    assert given.exit_code == 0 and "a-secret-given-by-the-user" not in given.output
    every = client.webhooks.list(property=['url=="https://hooks.example.com/all"'])[0]
    assert len(every["events"]) == 4

    for webhook in client.webhooks.list():
        assert remote.run("webhooks", "delete", webhook["id"]).exit_code == 0
    assert remote.json("webhooks", "list") == []


def test_webhooks_create_refuses_a_bad_url_in_one_line(remote: Cli) -> None:
    result = remote.run("webhooks", "create", "ftp://hooks.example.com/x", "--secret", "x" * 20)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FLOW-1000-400" in lines[0] and "http" in lines[0]


def test_every_listing_prints_json(remote: Cli, moving_run: str) -> None:
    for command in LISTINGS:
        items = remote.json(*command)
        assert isinstance(items, list), command
    assert remote.json("runs", "bad-rows", moving_run) == []


@pytest.mark.parametrize("command", [
    *LISTINGS,
    ("flows", "show", "x"), ("runs", "show", "x"), ("runs", "cancel", "x"), ("runs", "retry", "x"),
    ("runs", "bad-rows", "x"), ("webhooks", "deliveries", "x"), ("webhooks", "delete", "x"),
    ("runs", "create", "--flow", "f", "--window-start", "0", "--window-end", "1"),
    ("webhooks", "create", "https://example.com/x", "--secret", "x" * 20),
    ("connections", "test", "x"),
])
def test_an_unreachable_server_is_one_line_never_a_traceback(
    server: LiveServer, command: tuple[str, ...]
) -> None:
    cli = Cli(CliRunner(env={"SLUICE_DATA_DIR": str(server.settings.data_dir),
                             "SLUICE_URL": UNREACHABLE}))
    result = cli.run(*command)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_unknown_ids_and_bad_times_are_one_line_with_the_code(remote: Cli) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for command, code in ((("runs", "show", missing), "FLOW-1439-404"),
                          (("runs", "cancel", missing), "FLOW-1439-404"),
                          (("webhooks", "deliveries", missing), "FLOW-1439-404")):
        result = remote.run(*command)
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and code in lines[0], (command, result.stderr)
    bad_time = remote.run("runs", "create", "--flow", missing, "--window-start", "yesterday",
                          "--window-end", "2024-05-02")
    assert bad_time.exit_code == 1
    assert bad_time.stderr.strip().splitlines() == [
        "Error: --window-start: 'yesterday' is not epoch seconds, an ISO date (2024-05-01) or "
        "date-time (2024-05-01T12:00:00Z)"]


def test_an_unexpected_error_is_one_line_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], server: LiveServer
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setenv("SLUICE_DATA_DIR", str(server.settings.data_dir))
    monkeypatch.delenv("SLUICE_DEBUG", raising=False)
    monkeypatch.setattr(SluiceClient, "from_credentials_file", explode)
    with pytest.raises(SystemExit) as ended:
        main.app(["flows", "list", "--url", server.url], prog_name="sluice")
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "Error: unexpected RuntimeError: boom (set SLUICE_DEBUG=1 to see the traceback)"]
    monkeypatch.setenv("SLUICE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main.app(["flows", "list", "--url", server.url], prog_name="sluice")


def test_an_invalid_setting_is_one_line_naming_it_never_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SLUICE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SLUICE_DEBUG", raising=False)
    monkeypatch.setenv("SLUICE_LAKE_INTEGER_ENCODING", "zigzag")
    monkeypatch.setenv("SLUICE_WORKERS", "s3cr3t-ish")
    with pytest.raises(SystemExit) as ended:
        main.app(["serve", "--no-demo", "--port", "1"], prog_name="sluice")
    assert ended.value.code == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "Error: invalid setting SLUICE_WORKERS: Input should be a valid integer, unable to parse "
        "string as an integer; SLUICE_LAKE_INTEGER_ENCODING: Input should be 'delta' or 'plain'"]
    assert "zigzag" not in err and "s3cr3t" not in err


def test_json_output_is_plain_json(remote: Cli) -> None:
    raw = remote.run("webhooks", "list", "--output", "json").stdout
    assert json.loads(raw) == []
