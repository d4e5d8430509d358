"""Client-side commands (`sluice flows list`, ...) against a real server with the demo."""

from __future__ import annotations

import json
from pathlib import Path

from cli_harness import Cli
from live_server import LiveServer

from sluice.client import SluiceClient
from sluice.demo import setup_demo
from sluice.demo.provision import EVENTS_FLOW, ORDERS_FLOW


def test_flows_list_shows_the_demo_flows(remote: Cli) -> None:
    flows = remote.json("flows", "list")
    assert sorted(f["name"] for f in flows) == sorted([ORDERS_FLOW, EVENTS_FLOW])
    assert all(f["scheduleParams"]["frequency"] == "once" for f in flows)
    table = remote.run("flows", "list")
    assert table.exit_code == 0, table.output
    assert all(f["id"] in table.stdout for f in flows)  # ids stay whole, to be copied
    assert "Dataflows" in table.stdout and "once" in table.stdout


def test_list_takes_property_filters_and_a_limit(remote: Cli) -> None:
    specs = remote.json("connection-specs", "list", "--property", "name==SQLite")
    assert [s["name"] for s in specs] == ["SQLite"]
    assert len(remote.json("connection-specs", "list", "--limit", "1")) == 1
    assert len(remote.json("flow-specs", "list")) >= 2


def test_show_prints_one_item(remote: Cli) -> None:
    flow = remote.json("flows", "list", "--property", f'name=="{ORDERS_FLOW}"')[0]
    shown = remote.json("flows", "show", flow["id"])
    assert shown["id"] == flow["id"] and shown["name"] == ORDERS_FLOW
    table = remote.run("flows", "show", flow["id"])
    assert table.exit_code == 0 and flow["id"] in table.stdout


def test_every_list_command_answers(remote: Cli) -> None:
    for command in ("connections", "source-connections", "target-connections", "datasets",
                    "sandboxes"):
        items = remote.json(command, "list")
        assert items, command
    assert [s["name"] for s in remote.json("sandboxes", "list")] == ["prod"]
    names = {d["name"] for d in remote.json("datasets", "list")}
    assert names == {"Demo orders", "Demo events"}


def test_connection_test_reports_success(remote: Cli) -> None:
    connection = remote.json("connections", "list", "--property", 'name=="Demo shop database"')
    result = remote.run("connections", "test", connection[0]["id"])
    assert result.exit_code == 0, result.output
    assert "works" in result.stdout


def test_unknown_id_is_one_line_with_the_code(remote: Cli) -> None:
    result = remote.run("flows", "show", "00000000-0000-0000-0000-000000000000")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FLOW-1439-404" in lines[0]
    assert "Traceback" not in result.output


def test_bad_filter_is_reported_with_its_code(remote: Cli) -> None:
    result = remote.run("flows", "list", "--property", "name~~x")
    assert result.exit_code == 1
    assert "FLOW-14" in result.stderr


def test_missing_credentials_file_says_what_to_do(remote: Cli, tmp_path: Path) -> None:
    result = remote.run("flows", "list", "--credentials", str(tmp_path / "none.json"))
    assert result.exit_code == 1
    assert "sluice serve" in result.stderr


def test_unreachable_server_is_one_line(remote: Cli, server: LiveServer) -> None:
    result = remote.run("flows", "list", "--url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "cannot reach" in result.stderr
    assert "Traceback" not in result.output


def test_demo_setup_is_idempotent(server: LiveServer) -> None:
    c = server.credentials
    with SluiceClient(server.url, c.org_id, c.client_id, c.client_secret) as client:
        again = setup_demo(client, server.settings)
        assert again.created == ()
        flows = list(client.iter_list("flows"))
    assert len(flows) == 2
    assert {f["id"] for f in flows} == set(again.flow_ids.values())
    assert json.loads(server.settings.credentials_path.read_text())["clientId"] == c.client_id
