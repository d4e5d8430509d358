"""`sluice admin`: orgs, sandboxes and clients in a temporary SQLite metadata database."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_harness import Cli
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from sluice.api.app import create_app
from sluice.bootstrap import ensure_default_tenant
from sluice.client import SluiceClient
from sluice.config import Settings
from sluice.security.encryption import SecretBox
from sluice.store import tenants
from sluice.store.db import make_engine, make_session_factory, transaction
from sluice.store.models import Connection

POSTGRES_SPEC = "1bed8a75-0487-4216-85f5-94ddf2058992"


def create_org(cli: Cli, name: str = "Acme") -> str:
    org = cli.json("admin", "orgs", "create", name)
    return str(org["id"])


def test_orgs_create_then_list_in_json(cli: Cli, data_dir: Path) -> None:
    created = cli.json("admin", "orgs", "create", "Acme")
    assert set(created) == {"id", "name", "createdAt"}
    assert created["name"] == "Acme"
    listed = cli.json("admin", "orgs", "list")
    assert listed == [created]
    assert (data_dir / "sluice.db").exists()


def test_orgs_create_with_a_taken_id_fails_with_its_code(cli: Cli) -> None:
    cli.json("admin", "orgs", "create", "Acme", "--id", "ACME@SluiceOrg")
    result = cli.run("admin", "orgs", "create", "Other", "--id", "ACME@SluiceOrg")
    assert result.exit_code == 1
    assert "FLOW-1010-400" in result.stderr
    assert "Traceback" not in result.output


def test_orgs_list_prints_a_table(cli: Cli) -> None:
    create_org(cli, "Table Org")
    result = cli.run("admin", "orgs", "list")
    assert result.exit_code == 0
    assert "Table Org" in result.stdout
    assert "Name" in result.stdout


def test_new_org_has_prod_and_created_sandboxes_are_listed(cli: Cli) -> None:
    org = create_org(cli)
    sandbox = cli.json("admin", "sandboxes", "create", "dev-1", "--org", org, "--title", "Dev")
    assert sandbox["name"] == "dev-1" and sandbox["type"] == "development"
    listed = cli.json("admin", "sandboxes", "list", "--org", org)
    assert [s["name"] for s in listed] == ["dev-1", "prod"]
    assert set(listed[0]) == {"id", "name", "title", "type", "state", "isDefault", "orgId"}
    assert next(s for s in listed if s["name"] == "prod")["isDefault"] is True


def test_invalid_sandbox_name_is_one_coded_line(cli: Cli) -> None:
    org = create_org(cli)
    result = cli.run("admin", "sandboxes", "create", "Not Valid", "--org", org)
    assert result.exit_code == 1
    assert "FLOW-2106-400" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_sandboxes_of_an_unknown_org_is_not_found(cli: Cli) -> None:
    result = cli.run("admin", "sandboxes", "list", "--org", "nope@SluiceOrg")
    assert result.exit_code == 1
    assert "FLOW-1439-404" in result.stderr


def test_client_secret_is_shown_once_and_works(cli: Cli) -> None:
    org = create_org(cli)
    issued = cli.json("admin", "clients", "create", "--org", org, "--name", "etl")
    assert set(issued) == {"orgId", "clientId", "clientSecret"}
    assert issued["orgId"] == org
    listed = cli.run("admin", "clients", "list", "--org", org, "--output", "json")
    assert issued["clientSecret"] not in listed.stdout
    table = cli.run("admin", "clients", "list")
    assert issued["clientSecret"] not in table.stdout
    engine = make_engine(Settings().resolved_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            found = tenants.authenticate_client(session, issued["clientId"],
                                                issued["clientSecret"])
            assert found is not None and found.org_id == org
    finally:
        engine.dispose()


def test_clients_create_table_output_names_the_secret(cli: Cli) -> None:
    org = create_org(cli)
    result = cli.run("admin", "clients", "create", "--org", org)
    assert result.exit_code == 0
    assert "Client secret:" in result.stdout and "shown only once" in result.stdout


def test_client_list_shape_and_org_filter(cli: Cli) -> None:
    first, second = create_org(cli, "One"), create_org(cli, "Two")
    a = cli.json("admin", "clients", "create", "--org", first)
    cli.json("admin", "clients", "create", "--org", second)
    only_first = cli.json("admin", "clients", "list", "--org", first)
    assert [c["clientId"] for c in only_first] == [a["clientId"]]
    assert set(only_first[0]) == {"clientId", "orgId", "name", "enabled", "createdAt"}
    assert len(cli.json("admin", "clients", "list")) == 2


def test_disable_then_enable_a_client(cli: Cli) -> None:
    org = create_org(cli)
    client_id = cli.json("admin", "clients", "create", "--org", org)["clientId"]
    disabled = cli.json("admin", "clients", "disable", client_id, "--org", org)
    assert disabled["enabled"] is False
    assert cli.json("admin", "clients", "list", "--org", org)[0]["enabled"] is False
    assert cli.json("admin", "clients", "enable", client_id)["enabled"] is True


def test_rotate_secret_prints_a_new_secret_once_and_stays_in_its_org(cli: Cli) -> None:
    mine, theirs = create_org(cli, "Mine"), create_org(cli, "Theirs")
    issued = cli.json("admin", "clients", "create", "--org", mine)
    rotated = cli.json("admin", "clients", "rotate-secret", issued["clientId"], "--org", mine)
    assert rotated["clientId"] == issued["clientId"] and rotated["orgId"] == mine
    assert rotated["clientSecret"] and rotated["clientSecret"] != issued["clientSecret"]
    refused = cli.run("admin", "clients", "rotate-secret", issued["clientId"], "--org", theirs)
    assert refused.exit_code == 1 and "FLOW-1439-404" in refused.stderr
    assert rotated["clientSecret"] not in str(cli.json("admin", "clients", "list"))


def test_disable_refuses_a_client_of_another_org(cli: Cli) -> None:
    mine, theirs = create_org(cli, "Mine"), create_org(cli, "Theirs")
    client_id = cli.json("admin", "clients", "create", "--org", theirs)["clientId"]
    result = cli.run("admin", "clients", "disable", client_id, "--org", mine)
    assert result.exit_code == 1
    assert "FLOW-1439-404" in result.stderr
    assert cli.json("admin", "clients", "list", "--org", theirs)[0]["enabled"] is True


def test_disable_unknown_client_fails(cli: Cli) -> None:
    result = cli.run("admin", "clients", "disable", "sluice-unknown")
    assert result.exit_code == 1
    assert "FLOW-1439-404" in result.stderr


def test_create_client_for_unknown_org_fails(cli: Cli) -> None:
    result = cli.run("admin", "clients", "create", "--org", "ghost@SluiceOrg")
    assert result.exit_code == 1
    assert "FLOW-1439-404" in result.stderr
    assert cli.json("admin", "clients", "list") == []


def test_keys_rotate_moves_connection_secrets_to_the_first_key(
    cli: Cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("SLUICE_SECRET_KEYS", old)
    monkeypatch.setenv("SLUICE_TOKEN_SIGNING_KEY", "test-signing-key")
    settings = Settings()
    app = create_app(settings)
    engine = make_engine(settings.resolved_database_url)
    creds = ensure_default_tenant(settings, make_session_factory(engine))
    with TestClient(app) as http:
        client = SluiceClient("http://testserver", creds.org_id, creds.client_id,
                              creds.client_secret, http=http)
        client.post("connections", {
            "name": "pg", "connectionSpec": {"id": POSTGRES_SPEC, "version": "1.0"},
            "auth": {"specName": "Basic Authentication", "params": {
                "host": "127.0.0.1", "port": 5432, "database": "test", "username": "u",
                "password": "hunter2"}}})

    monkeypatch.setenv("SLUICE_SECRET_KEYS", new)  # the old key is missing: nothing changes
    failed = cli.run("admin", "keys", "rotate")
    assert failed.exit_code == 1 and "FLOW-1501-500" in failed.stderr

    monkeypatch.setenv("SLUICE_SECRET_KEYS", f"{new},{old}")
    assert cli.json("admin", "keys", "rotate") == {"rotated": 1}
    try:
        with transaction(make_session_factory(engine)) as session:
            sealed = session.scalar(select(Connection.sealed_secrets))
        assert SecretBox((new,)).open(sealed)["password"] == "hunter2"
    finally:
        engine.dispose()
