"""Creating and editing resources from the CLI against a real server: connections field by
field (secrets hidden) or from a file, flows from options or the wizard, flow edits with
If-Match, and the readable listings (runs with flow names, datasets preview and history)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_harness import remote_cli
from live_server import LiveServer, live_server

from sluice.client import SluiceClient
from support.connector_reads import pg_execute, pg_table

SECRET = "Cli-Secret-" + uuid.uuid4().hex[:8]
POSTGRESQL = "1bed8a75-0487-4216-85f5-94ddf2058992"
# The PostgreSQL spec's Basic Authentication, field by field as the CLI asks for them.
PG_ANSWERS = ["2", "pg from cli", "127.0.0.1", "", "test", "postgres", SECRET, "disable"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("authoring") / "data") as running:
        yield running


@pytest.fixture
def client(server: LiveServer) -> Iterator[SluiceClient]:
    c = server.credentials
    with SluiceClient(server.url, c.org_id, c.client_id, c.client_secret) as running:
        yield running


def cli(server: LiveServer, *args: str, answers: list[str] | None = None) -> Any:
    text = "".join(f"{a}\n" for a in answers) if answers is not None else None
    return remote_cli(server).runner.invoke(main_app(), list(args), input=text,
                                            catch_exceptions=False)


def main_app() -> Any:
    from sluice.cli.main import app
    return app


@pytest.fixture(scope="module")
def orders_table() -> Iterator[str]:
    with pg_table("cli_orders") as name:
        pg_execute(f"CREATE TABLE {name} (id integer PRIMARY KEY, updated_at timestamptz)")
        yield name


@pytest.fixture(scope="module")
def pg_connection(server: LiveServer) -> str:
    done = cli(server, "connections", "create", "--spec", "postgresql", "--test",
               answers=PG_ANSWERS)
    assert done.exit_code == 0, done.output
    assert SECRET not in done.output  # typed without echo, and never printed back
    assert "Connection" in done.output and "works." in done.output
    return done.output.split("Created connection ", 1)[1].split()[0]


def test_connections_create_prompts_each_field_and_keeps_the_secret_hidden(
    server: LiveServer, client: SluiceClient, pg_connection: str
) -> None:
    stored = client.connections.get(pg_connection)
    assert stored["name"] == "pg from cli"
    params = stored["auth"]["params"]
    assert params["port"] == 5432 and params["sslMode"] == "disable"
    assert params["password"] != SECRET and SECRET not in json.dumps(stored)


def test_connections_create_from_a_file_shows_the_coded_error_and_creates_nothing(
    server: LiveServer, client: SluiceClient, tmp_path: Path
) -> None:
    before = client.connections.count()
    body = {"name": "bad", "connectionSpec": {"id": POSTGRESQL, "version": "1.0"},
            "auth": {"specName": "Basic Authentication",
                     "params": {"host": "127.0.0.1", "port": "not a port"}}}
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(body))
    refused = cli(server, "connections", "create", "--from-file", str(path))
    assert refused.exit_code == 1
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "FLOW-" in lines[0] and "-400" in lines[0], refused.output
    assert client.connections.count() == before

    body["auth"]["params"] = {"host": "127.0.0.1", "database": "test", "username": "postgres"}
    path.write_text(json.dumps(body))
    made = cli(server, "connections", "create", "--from-file", str(path), "-o", "json")
    assert made.exit_code == 0, made.output
    assert client.connections.get(json.loads(made.stdout)["id"])["name"] == "bad"

    unknown = cli(server, "connections", "create", "--spec", "No Such Spec")
    assert unknown.exit_code == 1 and "PostgreSQL" in unknown.output


def test_flows_create_from_options_and_a_refused_flow_leaves_nothing_behind(
    server: LiveServer, client: SluiceClient, pg_connection: str, orders_table: str
) -> None:
    done = cli(server, "flows", "create", "--name", "hourly orders",
               "--source-connection", pg_connection, "--source-table", orders_table,
               "--new-dataset", "orders from cli", "--schedule", "hour", "--interval", "2",
               "--start", "2030-01-01T00:00:00Z", "--delta-column", "updated_at",
               "--write-mode", "merge", "--primary-key", "id", "-o", "json")
    assert done.exit_code == 0, done.output
    created = json.loads(done.stdout)
    flow = client.flows.get(created["flow"])
    assert flow["scheduleParams"]["frequency"] == "hour"
    assert flow["scheduleParams"]["interval"] == 2
    assert int(flow["scheduleParams"]["startTime"]) == 1893456000
    assert flow["options"]["writeMode"] == "merge" and flow["options"]["primaryKey"] == ["id"]
    assert flow["transformations"][0]["params"]["deltaColumn"]["name"] == "updated_at"
    assert client.datasets.get(created["dataset"])["name"] == "orders from cli"
    shown = cli(server, "flows", "show", created["flow"]).output
    assert "hour, every 2, from 2030-01-01T00:00:00Z" in shown and "updated_at" in shown
    assert "primaryKey=['id']" in shown and "writeMode=merge" in shown

    counts = (client.source_connections.count(), client.target_connections.count(),
              len(client.datasets.list()))
    refused = cli(server, "flows", "create", "--source-connection", pg_connection,
                  "--source-table", orders_table, "--new-dataset", "doomed",
                  "--schedule", "minute", "--interval", "1", "--delta-column", "updated_at")
    assert refused.exit_code == 1
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "FLOW-" in lines[0], refused.output
    assert counts == (client.source_connections.count(), client.target_connections.count(),
                      len(client.datasets.list()))

    usage = cli(server, "flows", "create", "--schedule", "fortnight")
    assert usage.exit_code == 1 and "--schedule: 'fortnight'" in usage.output


def test_flows_create_wizard_walks_the_dashboards_steps_and_shows_the_bodies(
    server: LiveServer, client: SluiceClient, pg_connection: str, orders_table: str
) -> None:
    connections = client.connections.list(limit=30)
    number = [c["id"] for c in connections].index(pg_connection) + 1
    answers = [
        str(number),  # connection
        f"public.{orders_table}",  # table
        "wizard orders",  # flow name
        "y", "",  # a new dataset, named as proposed
        "",  # write mode: the default
        "updated_at",  # delta column
        "3", "",  # hourly, every 1
        "2031-05-01T00:00:00Z",  # start
        "n",  # no backfill
        "y",  # create
    ]
    done = cli(server, "flows", "create", answers=answers)
    assert done.exit_code == 0, done.output
    out = done.output
    for step in ("1. Source", "2. Dataset", "3. Options", "4. Schedule", "5. Review"):
        assert step in out
    assert "updated_at (timestamp)" in out  # the reflected columns with their types
    assert "POST /data/foundation/flowservice/sourceConnections" in out
    assert "POST /data/foundation/flowservice/flows" in out
    assert '"targetConnectionIds": [\n    "<targetConnection.id>"' in out
    assert "Next ticks (UTC): 2031-05-01T00:00:00Z, 2031-05-01T01:00:00Z" in out
    flow_id = out.split("Created flow ", 1)[1].split()[0]
    flow = client.flows.get(flow_id)
    assert flow["name"] == "wizard orders"
    assert flow["scheduleParams"]["frequency"] == "hour"
    assert flow["options"]["writeMode"] == "replaceWindow"


def test_flows_edit_patches_with_if_match_and_reports_a_lost_update(
    server: LiveServer, client: SluiceClient, pg_connection: str, orders_table: str
) -> None:
    made = cli(server, "flows", "create", "--source-connection", pg_connection,
               "--source-table", orders_table, "--new-dataset", "edited", "-o", "json")
    assert made.exit_code == 0, made.output
    flow_id = json.loads(made.stdout)["flow"]
    stale = client.flows.get(flow_id)["etag"]
    edited = cli(server, "flows", "edit", flow_id, "--write-mode", "append",
                 "--option", "errorDiagnosticsEnabled=true", "--name", "renamed")
    assert edited.exit_code == 0, edited.output
    flow = client.flows.get(flow_id)
    assert flow["name"] == "renamed" and flow["options"]["writeMode"] == "append"
    assert flow["options"]["errorDiagnosticsEnabled"] is True

    lost = cli(server, "flows", "edit", flow_id, "--write-mode", "merge",
               "--primary-key", "id", "--etag", stale)
    assert lost.exit_code == 1
    lines = [line for line in lost.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "changed since it was read" in lines[0] and "412" in lines[0]
    assert client.flows.get(flow_id)["options"]["writeMode"] == "append"


def test_readable_listings_runs_with_flow_names_and_datasets_preview_and_history(
    server: LiveServer, client: SluiceClient, pg_connection: str, orders_table: str
) -> None:
    made = cli(server, "flows", "create", "--name", "listed flow",
               "--source-connection", pg_connection, "--source-table", orders_table,
               "--new-dataset", "listed", "-o", "json")
    created = json.loads(made.stdout)
    run = client.runs.create(created["flow"], window_start=1714521600, window_end=1714608000,
                             start_time=1893456000, delta_column="updated_at").id
    listed = cli(server, "runs", "list", "--property", f"flowId=={created['flow']}",
                 "--orderby", "-createdAt", "--limit", "5")
    assert listed.exit_code == 0, listed.output
    assert run in listed.output and "listed flow" in listed.output
    assert "2024-05-01T00:00:00Z" in listed.output and "scheduled" in listed.output
    shown = cli(server, "runs", "show", run)
    assert "listed flow" in shown.output and "[2024-05-01T00:00:00Z, 2024-05-02T00:00:00Z)" in (
        shown.output)
    assert cli(server, "webhooks", "list", "--limit", "1", "--orderby", "-createdAt",
               "-p", "enabled==true").exit_code == 0
    preview = cli(server, "datasets", "preview", created["dataset"])
    assert preview.exit_code == 0 and "Nothing written yet" in preview.output
    history = cli(server, "datasets", "history", created["dataset"], "-o", "json")
    assert history.exit_code == 0 and json.loads(history.stdout) == []
