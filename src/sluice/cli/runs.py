"""`sluice runs ...`: create on-demand runs, watch them, list, show, retry and cancel."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import islice
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from sluice.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    fail,
    print_item,
    print_items,
    print_json,
)
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.client import SluiceClient, run_status, wait_for_run

app = typer.Typer(help="On-demand runs and their monitoring.", no_args_is_help=True)

RUN_COLUMNS = (
    ("ID", "id"),
    ("Flow", "flowId"),
    ("Status", "metrics.statusSummary.status"),
    ("Window start", "params.windowStartTime"),
    ("Window end", "params.windowEndTime"),
    ("Records in", "metrics.recordSummary.inputRecordCount"),
    ("Records out", "metrics.recordSummary.outputRecordCount"),
    ("Failed", "metrics.recordSummary.failedRecordCount"),
)
WaitOption = Annotated[bool, typer.Option("--wait", help="Follow the run until it ends.")]
RunId = Annotated[str, typer.Argument(help="Run id.")]


def parse_time(text: str) -> int:
    """Epoch seconds from epoch seconds, an ISO date (midnight UTC) or an ISO date-time
    (UTC unless it carries an offset)."""
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not epoch seconds, an ISO date (2024-05-01) or date-time "
            "(2024-05-01T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _progress_table(run: dict[str, Any]) -> Table:
    metrics = run.get("metrics") or {}
    records = metrics.get("recordSummary") or {}
    sizes = metrics.get("sizeSummary") or {}
    files = metrics.get("fileSummary") or {}
    table = Table(title=f"Run {run.get('id')}", show_header=False)
    table.add_row("Status", run_status(run))
    table.add_row(
        "Records in / out / failed",
        f"{records.get('inputRecordCount', 0):,} / "
        f"{records.get('outputRecordCount', 0):,} / "
        f"{records.get('failedRecordCount', 0):,}",
    )
    table.add_row(
        "Bytes in / out", f"{sizes.get('inputBytes', 0):,} / {sizes.get('outputBytes', 0):,}"
    )
    table.add_row(
        "Files in / out", f"{files.get('inputFileCount', 0)} / {files.get('outputFileCount', 0)}"
    )
    return table


def _follow(client: SluiceClient, run_id: str, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        run = wait_for_run(client, run_id)
    else:
        with Live(console=console, refresh_per_second=4) as live:
            run = wait_for_run(
                client, run_id, on_progress=lambda r: live.update(_progress_table(r))
            )
    _report_end(run, output)


def _report_end(run: dict[str, Any], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        print_json(run)
    status = run_status(run)
    if status == "failed":
        errors = (run.get("metrics") or {}).get("statusSummary", {}).get("errors") or []
        first = errors[0] if errors else {"code": "?", "message": "no reason recorded"}
        fail(f"run {run.get('id')} failed: {first.get('code')}: {first.get('message')}")
    if output is OutputFormat.table:
        console.print(f"\nRun {run.get('id')} ended: {status}")


@app.command("create")
def create_run(
    flow: Annotated[str, typer.Option("--flow", help="Flow id.")],
    window_start: Annotated[str, typer.Option("--window-start", help="Epoch s or ISO.")],
    window_end: Annotated[str, typer.Option("--window-end", help="Epoch s or ISO (exclusive).")],
    delta_column: Annotated[
        str | None, typer.Option("--delta-column", help="First table run only.")
    ] = None,
    start_time: Annotated[
        str | None, typer.Option("--start-time", help="When the run may begin (default now).")
    ] = None,
    wait: WaitOption = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Create an on-demand run of a flow over [window-start, window-end)."""
    params: dict[str, Any] = {
        "windowStartTime": str(parse_time(window_start)),
        "windowEndTime": str(parse_time(window_end)),
        "startTime": str(parse_time(start_time))
        if start_time
        else str(int(datetime.now(UTC).timestamp())),
    }
    if delta_column:
        params["deltaColumn"] = {"name": delta_column}
    with api_errors(), open_client(url, credentials) as client:
        created = client.post("runs", {"flowId": flow, "params": params})
        run_id = str(created["items"][0]["id"])
        if not wait:
            if output is OutputFormat.json:
                print_json(created)
            else:
                console.print(f"Created run {run_id}")
            return
        _follow(client, run_id, output)


@app.command("list")
def list_runs(
    flow: Annotated[str | None, typer.Option("--flow", help="Only this flow's runs.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="e.g. failed")] = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1)] = 20,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """List runs, newest first."""
    filters = []
    if flow:
        filters.append(f"flowId=={flow}")
    if status:
        filters.append(f"state=={status}")
    with api_errors(), open_client(url, credentials) as client:
        items = list(
            islice(client.iter_list("runs", filters, "-createdAt", min(limit, 100)), limit)
        )
    print_items(items, RUN_COLUMNS, output, title="Runs")


@app.command("show")
def show_run(
    run_id: RunId,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Show one run with its metrics and activities."""
    with api_errors(), open_client(url, credentials) as client:
        print_item(client.get_item(f"runs/{run_id}"), output)


@app.command("retry")
def retry_run(
    run_id: RunId,
    wait: WaitOption = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Re-trigger a failed run (same window, same files) as a new run."""
    with api_errors(), open_client(url, credentials) as client:
        created = client.post(f"runs/{run_id}/action", params={"op": "re-trigger"})
        new_id = str(created["id"])
        if wait:
            _follow(client, new_id, output)
        elif output is OutputFormat.json:
            print_json(created)
        else:
            console.print(f"Created run {new_id} (re-trigger of {run_id})")


@app.command("cancel")
def cancel_run(
    run_id: RunId,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Cancel a scheduled run, or ask an in-progress run to stop without committing."""
    with api_errors(), open_client(url, credentials) as client:
        client.post(f"runs/{run_id}/action", params={"op": "cancel"})
    console.print(f"Cancel requested for run {run_id}")
