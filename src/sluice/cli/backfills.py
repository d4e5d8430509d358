"""`sluice backfills ...`: plan and create backfills, list and show them, and pause, resume,
cancel or retry one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from sluice.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    print_items,
    print_json,
    print_written,
)
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.cli.runs import FlowOption, WindowEndOption, WindowStartOption, window_options

app = typer.Typer(
    help="Backfills: a flow's history loaded in chunks, a few at a time.", no_args_is_help=True
)

BACKFILL_COLUMNS = (
    ("ID", "id"),
    ("Status", "status"),
    ("Window start", "windowStartTime"),
    ("Window end", "windowEndTime"),
    ("Chunks", "progress.chunks.total"),
    ("Succeeded", "progress.chunks.succeeded"),
    ("Failed", "progress.chunks.failed"),
    ("Records", "progress.records"),
)
BackfillId = Annotated[str, typer.Argument(help="Backfill id.")]


def iso(epoch_seconds: Any) -> str:
    """ISO 8601 in UTC (`2024-05-01T00:00:00Z`); anything else as it is."""
    if not isinstance(epoch_seconds, int):
        return str(epoch_seconds)
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunk_table(chunks: list[dict[str, Any]], title: str, with_runs: bool) -> Table:
    table = Table(title=title, title_justify="left")
    for header in ("#", "Start (UTC)", "End (UTC, exclusive)"):
        table.add_column(header, no_wrap=True)
    if with_runs:
        table.add_column("Status")
        table.add_column("Run", no_wrap=True)
        table.add_column("Tries")
    for chunk in chunks:
        row = [str(chunk["index"]), iso(chunk["windowStartTime"]), iso(chunk["windowEndTime"])]
        if with_runs:
            row += [chunk["status"], chunk.get("runId") or "", str(len(chunk.get("runs", [])))]
        table.add_row(*row)
    return table


@app.command("create")
def create_backfill(
    flow: FlowOption,
    window_start: WindowStartOption,
    window_end: WindowEndOption,
    unit: Annotated[str, typer.Option("--unit", help="Chunk unit: hour, day, week or month.")] = (
        "day"
    ),
    size: Annotated[int, typer.Option("--size", help="Units per chunk.")] = 1,
    parallelism: Annotated[
        int, typer.Option("--parallelism", "-p", help="Chunk runs at once (1-16).")
    ] = 1,
    delta_column: Annotated[
        str | None, typer.Option("--delta-column", help="Only if the table flow has none yet.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the chunks; create nothing.")
    ] = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Backfill a flow over [window-start, window-end) in chunks aligned to the unit (UTC)."""
    start, end = window_options(window_start, window_end)
    arguments: dict[str, Any] = {
        "window_start": start,
        "window_end": end,
        "unit": unit,
        "size": size,
        "parallelism": parallelism,
        "delta_column": delta_column,
    }
    with api_errors(), open_client(url, credentials) as client:
        if dry_run:
            plan = client.backfills.plan(flow, **arguments)
            if output is OutputFormat.json:
                print_json(plan)
                return
            chunks = plan["chunks"]
            title = (
                f"Plan: {len(chunks)} chunk(s) of {size} {unit}(s), "
                f"{parallelism} at a time (dry run, nothing created)"
            )
            console.print(_chunk_table(chunks, title, with_runs=False))
            return
        created = client.backfills.create(flow, **arguments)
    print_written(created, output, f"Created backfill {created.id}")


@app.command("list")
def list_backfills(
    flow: Annotated[str | None, typer.Option("--flow", help="Only this flow's backfills.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="e.g. running")] = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1)] = 20,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """List backfills with their progress, newest first."""
    filters = [f"flowId=={flow}"] if flow else []
    if status:
        filters.append(f"status=={status}")
    with api_errors(), open_client(url, credentials) as client:
        items = client.backfills.list(property=filters, orderby="-createdAt", limit=limit)
    if output is OutputFormat.table:
        items = [
            {
                **i,
                "windowStartTime": iso(i["windowStartTime"]),
                "windowEndTime": iso(i["windowEndTime"]),
            }
            for i in items
        ]
    print_items(items, BACKFILL_COLUMNS, output, title="Backfills")


@app.command("show")
def show_backfill(
    backfill_id: BackfillId,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Show a backfill: status, progress and every chunk with its run."""
    with api_errors(), open_client(url, credentials) as client:
        backfill = client.backfills.get(backfill_id)
    if output is OutputFormat.json:
        print_json(backfill)
        return
    progress = backfill["progress"]
    counts = ", ".join(f"{state} {n}" for state, n in progress["chunks"].items())
    console.print(
        f"Backfill {backfill['id']} of flow {backfill['flowId']}: {backfill['status']}\n"
        f"[{iso(backfill['windowStartTime'])}, {iso(backfill['windowEndTime'])}) in chunks of "
        f"{backfill['chunk']['size']} {backfill['chunk']['unit']}(s), "
        f"{backfill['parallelism']} at a time\n"
        f"Chunks: {counts}; records landed: {progress['records']:,}",
        highlight=False,
    )
    console.print(_chunk_table(backfill.get("chunks", []), "Chunks", with_runs=True))


def _action(name: str, done: str) -> None:
    def command(
        backfill_id: BackfillId,
        url: UrlOption = DEFAULT_URL,
        credentials: CredentialsOption = None,
    ) -> None:
        with api_errors(), open_client(url, credentials) as client:
            getattr(client.backfills, name)(backfill_id)
        console.print(f"Backfill {backfill_id} {done}")

    command.__doc__ = {
        "pause": "Pause: start no more chunk runs (the running ones finish).",
        "resume": "Resume a paused backfill.",
        "cancel": "Cancel: no more chunk runs; scheduled ones are cancelled, running ones stop.",
        "retry": "Run the failed chunks of a failed backfill again (succeeded ones are kept).",
    }[name]
    app.command(name)(command)


for _name, _done in (
    ("pause", "paused"),
    ("resume", "resumed"),
    ("cancel", "cancelled"),
    ("retry", "retrying its failed chunks"),
):
    _action(_name, _done)
