"""Read-only API commands: `sluice flows list`, `sluice connections test ID`, ..."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Annotated

import typer

from sluice.cli import connection_create, datasets, flow_create, flow_edit
from sluice.cli.flow_views import flow_facts
from sluice.cli.list_options import MAX_PAGE_SIZE, LimitOption, OrderOption, PropertyOption
from sluice.cli.output import (
    Columns,
    OutputFormat,
    OutputOption,
    fail,
    print_item,
    print_items,
    print_json,
)
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.client import CATALOG_PATH, SANDBOXES_PATH

IdArgument = Annotated[str, typer.Argument(help="Resource id.")]


@dataclass(frozen=True)
class Resource:
    command: str
    path: str
    title: str
    columns: Columns
    showable: bool = True


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "flows",
        "flows",
        "Dataflows",
        (
            ("ID", "id"),
            ("Name", "name"),
            ("State", "state"),
            ("Frequency", "scheduleParams.frequency"),
            ("Last run", "lastRunDetails.state"),
        ),
    ),
    Resource(
        "connections",
        "connections",
        "Base connections",
        (("ID", "id"), ("Name", "name"), ("State", "state"), ("Created", "createdAt")),
    ),
    Resource(
        "source-connections",
        "sourceConnections",
        "Source connections",
        (
            ("ID", "id"),
            ("Name", "name"),
            ("Base connection", "baseConnectionId"),
            ("Format", "data.format"),
        ),
    ),
    Resource(
        "target-connections",
        "targetConnections",
        "Target connections",
        (("ID", "id"), ("Name", "name"), ("Dataset", "params.dataSetId")),
    ),
    Resource(
        "datasets",
        f"{CATALOG_PATH}/dataSets",
        "Datasets",
        (("ID", "id"), ("Name", "name"), ("Created", "created")),
    ),
    Resource(
        "connection-specs",
        "connectionSpecs",
        "Connection specs",
        (("ID", "id"), ("Name", "name"), ("Category", "attributes.category.key")),
    ),
    Resource("flow-specs", "flowSpecs", "Flow specs", (("ID", "id"), ("Name", "name"))),
    Resource(
        "sandboxes",
        SANDBOXES_PATH,
        "Sandboxes",
        (("Name", "name"), ("Title", "title"), ("Type", "type"), ("State", "state")),
        showable=False,
    ),
)


def list_command(resource: Resource) -> Callable[..., None]:
    def list_resource(
        property: PropertyOption = None,
        limit: LimitOption = None,
        orderby: OrderOption = None,
        output: OutputOption = OutputFormat.table,
        url: UrlOption = DEFAULT_URL,
        credentials: CredentialsOption = None,
    ) -> None:
        page_size = min(limit, MAX_PAGE_SIZE) if limit else None
        with api_errors(), open_client(url, credentials) as client:
            items = list(
                islice(client.iter_list(resource.path, property or [], orderby, page_size), limit)
            )
        print_items(items, resource.columns, output, title=resource.title)

    list_resource.__doc__ = f"List {resource.title.lower()}."
    return list_resource


def show_command(resource: Resource) -> Callable[..., None]:
    def show_resource(
        resource_id: IdArgument,
        output: OutputOption = OutputFormat.table,
        url: UrlOption = DEFAULT_URL,
        credentials: CredentialsOption = None,
    ) -> None:
        with api_errors(), open_client(url, credentials) as client:
            item = client.get_item(f"{resource.path}/{resource_id}")
        if resource.command == "flows" and output is OutputFormat.table:
            print_item(flow_facts(item), output)  # compact; --output json for all of it
            return
        print_item(item, output)

    show_resource.__doc__ = f"Show one of the {resource.title.lower()}."
    return show_resource


def test_connection(
    connection_id: IdArgument,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Check that a base connection can reach its source."""
    with api_errors(), open_client(url, credentials) as client:
        result = client.get(f"connections/{connection_id}/test")
    if output is OutputFormat.json:
        print_item(result, output)
    ok = isinstance(result, dict) and result.get("result") is True
    if not ok:
        reason = result.get("message") or result.get("error") if isinstance(result, dict) else None
        fail(f"connection {connection_id} does not work" + (f": {reason}" if reason else ""))
    if output is OutputFormat.table:
        typer.echo(f"Connection {connection_id} works.")


def explore_connection(
    connection_id: IdArgument,
    object_type: Annotated[
        str, typer.Option("--type", "-t", help="root, schema, folder, table, file or rest.")
    ] = "root",
    object: Annotated[
        str | None, typer.Option("--object", help="The schema, folder, table or file.")
    ] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Show sample rows too.")] = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """List what a base connection reaches, or show a table's or file's columns (and rows)."""
    with api_errors(), open_client(url, credentials) as client:
        result = client.connections.explore(connection_id, object_type, object, preview=preview)
    if output is OutputFormat.json:
        print_json(result)
    elif isinstance(result, list):
        print_items(result, (("Type", "type"), ("Name", "name"), ("Path", "path")), output)
    else:
        columns = result["schema"]["columns"]
        print_items(columns, (("Column", "name"), ("Type", "type")), output, title=object)
        if preview:
            # Keyed by position: a column name may hold a dot, which `lookup` reads as a path.
            rows = [
                {str(i): row.get(c["name"]) for i, c in enumerate(columns)}
                for row in result["data"]
            ]
            headers = tuple((c["name"], str(i)) for i, c in enumerate(columns))
            print_items(rows, headers, output, title="Sample rows")


def register(app: typer.Typer) -> None:
    for resource in RESOURCES:
        group = typer.Typer(help=f"{resource.title} (through the HTTP API).", no_args_is_help=True)
        group.command("list")(list_command(resource))
        if resource.showable:
            group.command("show")(show_command(resource))
        if resource.command == "connections":
            group.command("create")(connection_create.create_connection)
            group.command("test")(test_connection)
            group.command("explore")(explore_connection)
        if resource.command == "flows":
            group.command("create")(flow_create.create_flow)
            group.command("edit")(flow_edit.edit_flow)
        if resource.command == "datasets":
            group.command("preview")(datasets.preview_dataset)
            group.command("history")(datasets.dataset_history)
        app.add_typer(group, name=resource.command)
