"""`sluice admin`: orgs, sandboxes and API clients, straight in the metadata database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sluice.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    fail,
    print_items,
    print_json,
)
from sluice.cli.output import reported_errors as admin_errors
from sluice.config import Settings
from sluice.security.encryption import SecretBox
from sluice.security.keys import load_key_ring
from sluice.services import tenancy
from sluice.services.key_rotation import rotate_all_secrets
from sluice.services.metadata_database import open_metadata_database
from sluice.services.tenancy import ClientRecord, IssuedClient, OrgRecord, SandboxRecord

app = typer.Typer(
    help="Manage orgs, sandboxes and API clients (direct database access; "
    "uses SLUICE_DATABASE_URL or the data dir's SQLite file).",
    no_args_is_help=True,
)
orgs_app = typer.Typer(help="Organisations.", no_args_is_help=True)
sandboxes_app = typer.Typer(help="Sandboxes of an org.", no_args_is_help=True)
clients_app = typer.Typer(help="API clients (client id = x-api-key).", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys of connection secrets.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(sandboxes_app, name="sandboxes")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")

OrgOption = Annotated[str, typer.Option("--org", help="Org id (see `sluice admin orgs list`).")]


@contextmanager
def database(settings: Settings | None = None) -> Iterator[Session]:
    """One transaction on the configured metadata database, brought to the newest schema."""
    settings = settings or Settings()
    metadata = open_metadata_database(settings.resolved_database_url)
    try:
        with admin_errors():
            try:
                metadata.upgrade_schema()
            except OperationalError as error:
                fail(f"cannot open the metadata database: {error.orig}")
            with metadata.sessions.begin() as session:
                yield session
    finally:
        metadata.dispose()


def org_row(org: OrgRecord) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "createdAt": org.created_at}


def sandbox_row(sandbox: SandboxRecord) -> dict[str, Any]:
    return {
        "id": sandbox.id,
        "name": sandbox.name,
        "title": sandbox.title,
        "type": sandbox.type,
        "state": sandbox.state,
        "isDefault": sandbox.is_default,
        "orgId": sandbox.org_id,
    }


def client_row(client: ClientRecord) -> dict[str, Any]:
    return {
        "clientId": client.id,
        "orgId": client.org_id,
        "name": client.name,
        "enabled": client.enabled,
        "createdAt": client.created_at,
    }


@orgs_app.command("create")
def create_org(
    name: Annotated[str, typer.Argument(help="Display name.")],
    org_id: Annotated[str | None, typer.Option("--id", help="Org id [default: generated].")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create an org (with its `prod` sandbox)."""
    with database() as session:
        row = org_row(tenancy.create_org(session, name, org_id))
    if output is OutputFormat.json:
        print_json(row)
    else:
        console.print(f"Created org [bold]{row['id']}[/bold] ({name}) with sandbox 'prod'.")


@orgs_app.command("list")
def list_orgs(output: OutputOption = OutputFormat.table) -> None:
    """List orgs."""
    with database() as session:
        rows = [org_row(o) for o in tenancy.list_orgs(session)]
    print_items(rows, (("ID", "id"), ("Name", "name"), ("Created", "createdAt")), output)


@sandboxes_app.command("create")
def create_sandbox(
    name: Annotated[str, typer.Argument(help="Lowercase name, e.g. dev-1.")],
    org: OrgOption,
    title: Annotated[str | None, typer.Option(help="Display title.")] = None,
    sandbox_type: Annotated[str, typer.Option("--type", help="development or production.")] = (
        "development"
    ),
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create a sandbox in an org."""
    with database() as session:
        tenancy.require_org(session, org)
        row = sandbox_row(
            tenancy.create_sandbox(session, org, name, title=title, sandbox_type=sandbox_type)
        )
    if output is OutputFormat.json:
        print_json(row)
    else:
        console.print(f"Created sandbox [bold]{name}[/bold] in org {org}.")


@sandboxes_app.command("list")
def list_sandboxes(org: OrgOption, output: OutputOption = OutputFormat.table) -> None:
    """List the sandboxes of an org."""
    with database() as session:
        tenancy.require_org(session, org)
        rows = [sandbox_row(s) for s in tenancy.list_sandboxes(session, org)]
    print_items(
        rows,
        (
            ("Name", "name"),
            ("Title", "title"),
            ("Type", "type"),
            ("State", "state"),
            ("Default", "isDefault"),
        ),
        output,
    )


@clients_app.command("create")
def create_client(
    org: OrgOption,
    name: Annotated[str, typer.Option(help="What the client is for.")] = "cli",
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create an API client; its secret is printed this once and never again."""
    with database() as session:
        issued = tenancy.create_client(session, org, name)
    _print_issued(issued, output)


def _print_issued(issued: IssuedClient, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        print_json(
            {
                "orgId": issued.org_id,
                "clientId": issued.client_id,
                "clientSecret": issued.client_secret,
            }
        )
        return
    console.print(f"Client id (x-api-key): [bold]{issued.client_id}[/bold]")
    console.print(f"Org id:                {issued.org_id}")
    console.print(f"Client secret:         [bold]{issued.client_secret}[/bold]", soft_wrap=True)
    console.print("[yellow]Store the secret now: it is shown only once.[/yellow]")


@clients_app.command("list")
def list_clients(
    org: Annotated[str | None, typer.Option("--org", help="Only this org's clients.")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List API clients (never their secrets)."""
    with database() as session:
        if org:
            tenancy.require_org(session, org)
        rows = [client_row(c) for c in tenancy.list_clients(session, org)]
    print_items(
        rows,
        (
            ("Client id", "clientId"),
            ("Org", "orgId"),
            ("Name", "name"),
            ("Enabled", "enabled"),
            ("Created", "createdAt"),
        ),
        output,
    )


def _set_enabled(client_id: str, org: str | None, enabled: bool, output: OutputFormat) -> None:
    with database() as session:
        row = client_row(tenancy.set_client_enabled(session, client_id, enabled, org_id=org))
    if output is OutputFormat.json:
        print_json(row)
    else:
        verb = "enabled" if enabled else "disabled; its tokens stop working now"
        console.print(f"Client {client_id} {verb}.")


ClientArgument = Annotated[str, typer.Argument(help="Client id.")]
OptionalOrgOption = Annotated[str | None, typer.Option("--org", help="Org the client must be in.")]


@clients_app.command("disable")
def disable_client(
    client_id: ClientArgument,
    org: OptionalOrgOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Disable an API client: it can get no token, and its tokens are refused."""
    _set_enabled(client_id, org, False, output)


@clients_app.command("enable")
def enable_client(
    client_id: ClientArgument,
    org: OptionalOrgOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Enable an API client again."""
    _set_enabled(client_id, org, True, output)


@clients_app.command("rotate-secret")
def rotate_client_secret(
    client_id: ClientArgument,
    org: OptionalOrgOption = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Give a client a new secret: the old one stops working, and so do the dashboard
    sessions opened with it; the new one is printed this once."""
    with database() as session:
        issued = tenancy.rotate_client_secret(session, client_id, org_id=org)
    _print_issued(issued, output)


@keys_app.command("rotate")
def rotate_keys(output: OutputOption = OutputFormat.table) -> None:
    """Re-encrypt every connection and webhook secret with the first key of SLUICE_SECRET_KEYS.

    Put the new key first and keep the old ones after it while this runs; afterwards the
    old keys can be dropped. All or nothing: a secret no key opens changes nothing."""
    settings = Settings()
    with database(settings) as session:
        box = SecretBox(load_key_ring(settings).fernet_keys)
        rotated = rotate_all_secrets(session, box)
    if output is OutputFormat.json:
        print_json({"rotated": rotated})
    else:
        console.print(
            f"Re-encrypted {rotated} secret(s) with the first key; "
            "older keys can now be removed from SLUICE_SECRET_KEYS."
        )
