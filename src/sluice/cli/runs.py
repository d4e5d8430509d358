"""`sluice runs ...`: create on-demand runs, follow and watch them, list, show, retry, cancel."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from sluice.cli.list_options import OrderOption, PropertyOption, RowsLimitOption
from sluice.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    err_console,
    fail,
    print_items,
    print_json,
    print_written,
)
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.cli.run_logs import run_logs
from sluice.cli.run_views import (
    RUN_ROW_COLUMNS,
    duration_text,
    elapsed_ms,
    end_line,
    flow_names,
    rate_text,
    run_facts,
    run_row,
)
from sluice.cli.watch import print_frame, watch_runs
from sluice.client import SluiceClient, run_status
from sluice.domain.numbers import ascii_whole_number

app = typer.Typer(help="On-demand runs and their monitoring.", no_args_is_help=True)

WaitOption = Annotated[bool, typer.Option("--wait", help="Follow the run until it ends.")]
RunId = Annotated[str, typer.Argument(help="Run id.")]
# The window a run or a backfill reads: `runs create` and `backfills create`.
FlowOption = Annotated[str, typer.Option("--flow", help="Flow id.")]
WindowStartOption = Annotated[str, typer.Option("--window-start", help="Epoch s or ISO.")]
WindowEndOption = Annotated[str, typer.Option("--window-end", help="Epoch s or ISO (exclusive).")]


def parse_time(text: str) -> int:
    """Epoch seconds from epoch seconds, an ISO date (midnight UTC) or an ISO date-time
    (UTC unless it carries an offset); ValueError otherwise."""
    value = text.strip()
    epoch = ascii_whole_number(value, spaces=True)
    if epoch is not None:
        return epoch
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"'{text}' is not epoch seconds, an ISO date (2024-05-01) or date-time "
            "(2024-05-01T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def time_option(option: str, text: str) -> int:
    """`parse_time`, failing with one line that names the option."""
    try:
        return parse_time(text)
    except ValueError as error:
        fail(f"{option}: {error}")


def window_options(window_start: str, window_end: str) -> tuple[int, int]:
    """--window-start and --window-end as epoch seconds."""
    return time_option("--window-start", window_start), time_option("--window-end", window_end)


def _progress_table(run: dict[str, Any]) -> Table:
    metrics = run.get("metrics") or {}
    records = metrics.get("recordSummary") or {}
    sizes = metrics.get("sizeSummary") or {}
    files = metrics.get("fileSummary") or {}
    took = elapsed_ms(run, time.time_ns() // 1_000_000)
    table = Table(title=f"Run {run.get('id')}", show_header=False)
    table.add_row("Status", run_status(run))
    table.add_row("Elapsed", duration_text(took) or "not started")
    table.add_row("Rows/s", rate_text(int(records.get("inputRecordCount", 0) or 0), took))
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
        run = client.wait_for_run(run_id)
    else:
        with Live(console=console, refresh_per_second=4) as live:
            run = client.wait_for_run(run_id, on_progress=lambda r: live.update(_progress_table(r)))
    _report_end(run, output)


def _report_end(run: dict[str, Any], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        print_json(run)
    status = run_status(run)
    if status == "failed":
        errors = (run.get("metrics") or {}).get("statusSummary", {}).get("errors") or []
        first = errors[0] if errors else {"code": "?", "message": "no reason recorded"}
        if output is OutputFormat.table:
            console.print(end_line(run, None, time.time_ns() // 1_000_000), highlight=False)
        fail(f"run {run.get('id')} failed: {first.get('code')}: {first.get('message')}")
    if output is OutputFormat.table:
        console.print(end_line(run, None, time.time_ns() // 1_000_000), highlight=False)


@app.command("create")
def create_run(
    flow: FlowOption,
    window_start: WindowStartOption,
    window_end: WindowEndOption,
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
    start, end = window_options(window_start, window_end)
    begin = time_option("--start-time", start_time) if start_time else None
    with api_errors(), open_client(url, credentials) as client:
        created = client.runs.create(
            flow, window_start=start, window_end=end, start_time=begin, delta_column=delta_column
        )
        if not wait:
            if output is OutputFormat.json:
                print_json({"items": [{"id": created.id, "etag": created.etag}]})
            else:
                console.print(f"Created run {created.id}")
            return
        _follow(client, created.id, output)


@app.command("list")
def list_runs(
    flow: Annotated[str | None, typer.Option("--flow", help="Only this flow's runs.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="e.g. failed")] = None,
    property: PropertyOption = None,
    orderby: OrderOption = "-createdAt",
    limit: Annotated[int, typer.Option("--limit", "-l", min=1)] = 20,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """List runs, newest first (--orderby to change), with their flow's name, window (UTC),
    records, duration and rows/s."""
    filters = list(property or [])
    if flow:
        filters.append(f"flowId=={flow}")
    if status:
        filters.append(f"state=={status}")
    with api_errors(), open_client(url, credentials) as client:
        items = client.runs.list(property=filters, orderby=orderby, limit=limit)
        if output is OutputFormat.json:
            print_json(items)
            return
        names = flow_names(client, (str(i.get("flowId", "")) for i in items))
    now = time.time_ns() // 1_000_000
    table = Table(title="Runs", title_justify="left")
    for header, _ in RUN_ROW_COLUMNS:
        table.add_column(header, no_wrap=header in ("ID", "Window (UTC)"))
    for item in items:
        row = run_row(item, names, now)
        table.add_row(*(row[key] for _, key in RUN_ROW_COLUMNS))
    print_frame(table)
    if not items:
        err_console.print("[dim]No runs.[/dim]")


@app.command("show")
def show_run(
    run_id: RunId,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Show one run: status, window, times, records, rows/s and errors (--output json for
    the whole run with its metrics and activities)."""
    with api_errors(), open_client(url, credentials) as client:
        run = client.runs.get(run_id)
        if output is OutputFormat.json:
            print_json(run)
            return
        flow_id = str(run.get("flowId", ""))
        name = flow_names(client, [flow_id]).get(flow_id, flow_id)
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in run_facts(run, name, time.time_ns() // 1_000_000).items():
        table.add_row(key, value)
    console.print(table)


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
        created = client.runs.retrigger(run_id)
        if wait:
            _follow(client, created.id, output)
        else:
            print_written(created, output, f"Created run {created.id} (re-trigger of {run_id})")


@app.command("cancel")
def cancel_run(
    run_id: RunId,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Cancel a scheduled run, or ask an in-progress run to stop without committing."""
    with api_errors(), open_client(url, credentials) as client:
        client.runs.cancel(run_id)
    console.print(f"Cancel requested for run {run_id}")


@app.command("bad-rows")
def bad_rows(
    run_id: RunId,
    limit: RowsLimitOption = 100,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """List the rows a run quarantined, with the reason (flows with errorDiagnosticsEnabled)."""
    with api_errors(), open_client(url, credentials) as client:
        items = client.runs.bad_rows(run_id, limit=limit)
    print_items(
        items,
        (("#", "position"), ("Location", "location"), ("Reason", "reason"), ("Raw", "raw")),
        output,
        title=f"Bad rows of run {run_id}",
    )


app.command("watch")(watch_runs)
app.command("logs")(run_logs)
