"""`sluice webhooks ...`: subscribe URLs to run events and read their delivery log."""

from __future__ import annotations

import secrets
from itertools import islice
from typing import Annotated

import typer

from sluice.cli.list_options import LimitOption, OrderOption, PropertyOption
from sluice.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    err_console,
    print_item,
    print_items,
    print_json,
)
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client

EVENTS = ("flow_run_started", "flow_run_success", "flow_run_failed", "flow_run_delayed")
WEBHOOK_COLUMNS = (
    ("ID", "id"),
    ("Name", "name"),
    ("URL", "url"),
    ("Events", "events"),
    ("Flow", "flowId"),
    ("Enabled", "enabled"),
)
DELIVERY_COLUMNS = (
    ("ID", "id"),
    ("Event", "eventType"),
    ("Run", "runId"),
    ("Status", "status"),
    ("Attempts", "attempts"),
    ("Last code", "lastStatusCode"),
    ("Last error", "lastError"),
    ("Created", "createdAt"),
)

app = typer.Typer(help="Webhooks: run events posted to your URLs, signed.", no_args_is_help=True)
WebhookId = Annotated[str, typer.Argument(help="Webhook id.")]


@app.command("list")
def list_webhooks(
    property: PropertyOption = None,
    orderby: OrderOption = None,
    limit: LimitOption = None,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """List webhook subscriptions (never their secrets)."""
    with api_errors(), open_client(url, credentials) as client:
        items = client.webhooks.list(property=property or [], orderby=orderby, limit=limit)
    print_items(items, WEBHOOK_COLUMNS, output, title="Webhooks")


@app.command("show")
def show_webhook(
    webhook_id: WebhookId,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Show one webhook subscription."""
    with api_errors(), open_client(url, credentials) as client:
        print_item(client.webhooks.get(webhook_id), output)


@app.command("create")
def create_webhook(
    target: Annotated[
        str, typer.Argument(metavar="RECEIVER_URL", help="http(s) URL that receives the events.")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="What it is for [default: the URL].")
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help=f"Repeat for several: {', '.join(EVENTS)} [all]."),
    ] = None,
    flow: Annotated[str | None, typer.Option("--flow", help="Only this flow's runs.")] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            envvar="SLUICE_WEBHOOK_SECRET",
            help="Signing secret (16+ characters) [default: generated and printed once].",
        ),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Subscribe a URL to run events; deliveries are signed with the secret."""
    generated = secret is None
    signing_secret = secret if secret is not None else secrets.token_urlsafe(32)
    with api_errors(), open_client(url, credentials) as client:
        created = client.webhooks.create(
            name=name or target,
            url=target,
            events=event or list(EVENTS),
            secret=signing_secret,
            flow_id=flow,
            enabled=not disabled,
        )
    if output is OutputFormat.json:
        body = {"id": created.id, "etag": created.etag}
        print_json({**body, "secret": signing_secret} if generated else body)
        return
    console.print(f"Created webhook [bold]{created.id}[/bold]")
    if generated:
        console.print(f"Signing secret: [bold]{signing_secret}[/bold]", soft_wrap=True)
        err_console.print("[yellow]Store the secret now: it is shown only once.[/yellow]")


@app.command("delete")
def delete_webhook(
    webhook_id: WebhookId,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Delete a subscription; its pending deliveries are dropped."""
    with api_errors(), open_client(url, credentials) as client:
        client.webhooks.delete(webhook_id)
    console.print(f"Deleted webhook {webhook_id}")


@app.command("deliveries")
def list_deliveries(
    webhook_id: WebhookId,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered or failed.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1)] = 20,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """The delivery log of a subscription, newest first."""
    with api_errors(), open_client(url, credentials) as client:
        deliveries = client.webhooks.deliveries(
            webhook_id, status=status, page_size=min(limit, 100)
        )
        items = list(islice(deliveries, limit))
    print_items(items, DELIVERY_COLUMNS, output, title=f"Deliveries of webhook {webhook_id}")
