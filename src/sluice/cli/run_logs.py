"""`sluice runs logs ID [--follow]`: a run's structured log, as it is written."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from sluice.cli.output import OutputFormat, OutputOption, console
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client

_LEVEL_STYLE = {"info": "", "warning": "yellow", "error": "bold red"}


def _print_entry(entry: dict[str, Any], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        # One JSON object per line, so a follower can be piped into `jq` as it goes.
        typer.echo(json.dumps(entry))
        return
    level = str(entry.get("level", ""))
    style = _LEVEL_STYLE.get(level, "")
    text = (
        f"{entry.get('time', '')}  {level.upper():<7}  {entry.get('stage', ''):<7}  "
        f"{escape(str(entry.get('message', '')))}"
    )
    console.print(f"[{style}]{text}[/]" if style else text, highlight=False, soft_wrap=True)


def run_logs(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep printing entries until the run ends; exit 0 if it succeeded, 1 if not.",
        ),
    ] = False,
    since: Annotated[int, typer.Option("--since", min=0, help="Only entries after this seq.")] = 0,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Show a run's log: time, level, stage and message of each step the worker took."""
    with api_errors(), open_client(url, credentials) as client:
        if follow:
            status = client.runs.follow_logs(
                run_id, lambda entry: _print_entry(entry, output), since=since
            )
            if output is OutputFormat.table:
                console.print(f"Run {run_id} ended: {status}", highlight=False)
            raise typer.Exit(0 if status == "success" else 1)
        while True:
            page = client.runs.logs(run_id, since=since, limit=500)
            items = page.get("items") or []
            for entry in items:
                _print_entry(entry, output)
            since = int(page.get("since", since))
            if len(items) < 500:
                break
