"""`sluice runs watch`: a live table of the runs in progress, with records moving."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, RenderableType
from rich.live import Live
from rich.measure import Measurement
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from sluice.cli.output import OutputFormat, OutputOption, console, fail, print_json
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.cli.run_views import elapsed_ms, end_line, rate_text
from sluice.client import JsonObject, SluiceApiError, SluiceClient

BAR_WIDTH = 14
MAX_RUNS_SHOWN = 100


def _records(run: JsonObject) -> dict[str, int]:
    summary = (run.get("metrics") or {}).get("recordSummary") or {}
    return {k: int(v or 0) for k, v in summary.items() if isinstance(v, int | float)}


def _elapsed(run: JsonObject, now_ms: int) -> str:
    started = ((run.get("metrics") or {}).get("durationSummary") or {}).get("startedAtUTC")
    if not isinstance(started, int):
        return ""
    seconds = max(now_ms - started, 0) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


def _window(run: JsonObject) -> RenderableType:
    params = run.get("params") or {}
    start, end = params.get("windowStartTime"), params.get("windowEndTime")
    if start is None or end is None:
        return Text("full load")

    def fmt(value: Any) -> str:
        return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%d %H:%M")

    return Text(f"{fmt(start)}\n→ {fmt(end)}", no_wrap=True)


def _bar(completed: int, total: int | None, label: str) -> RenderableType:
    """A bar over its numbers; without a total the bar pulses (the amount is unknown)."""
    cell = Table.grid()
    cell.add_row(
        ProgressBar(total=float(total) if total else None, completed=completed, width=BAR_WIDTH)
    )
    cell.add_row(Text(label, no_wrap=True))
    return cell


class RunBoard:
    """Fetches the runs in progress and renders them; flow names and each flow's expected
    record count (its last successful run's) are looked up once per flow."""

    def __init__(self, client: SluiceClient, flow_id: str | None) -> None:
        self.client = client
        self.flow_id = flow_id
        self._names: dict[str, str] = {}
        self._expected: dict[str, int | None] = {}

    def fetch(self) -> list[JsonObject]:
        filters = ["state==inProgress"]
        if self.flow_id:
            filters.append(f"flowId=={self.flow_id}")
        return self.client.runs.list(property=filters, orderby="createdAt", limit=MAX_RUNS_SHOWN)

    def flow_name(self, flow_id: str) -> str:
        if flow_id not in self._names:
            try:
                self._names[flow_id] = str(self.client.flows.get(flow_id).get("name") or flow_id)
            except SluiceApiError:
                self._names[flow_id] = flow_id
        return self._names[flow_id]

    def expected_records(self, flow_id: str) -> int | None:
        """Records the flow's last successful run read: the guess at this run's total."""
        if flow_id not in self._expected:
            last = self.client.runs.list(
                property=[f"flowId=={flow_id}", "state==success"], orderby="-createdAt", limit=1
            )
            count = _records(last[0]).get("inputRecordCount") if last else None
            self._expected[flow_id] = count or None
        return self._expected[flow_id]

    def end_lines(self, before: list[JsonObject], now: list[JsonObject]) -> list[str]:
        """A status line for each run that was in progress and is no longer."""
        still = {str(r.get("id")) for r in now}
        lines = []
        for run in before:
            run_id = str(run.get("id"))
            if run_id in still:
                continue
            try:
                ended = self.client.runs.get(run_id)
            except SluiceApiError:
                continue
            name = self.flow_name(str(ended.get("flowId", "")))
            lines.append(end_line(ended, name, time.time_ns() // 1_000_000))
        return lines

    def render(self, runs: list[JsonObject], *, note: str | None = None) -> Table:
        now_ms = time.time_ns() // 1_000_000
        stamp = datetime.now(UTC).strftime("%H:%M:%S UTC")
        caption = note or f"{len(runs)} in progress · {stamp} · Ctrl-C to stop"
        table = Table(title="Runs in progress", title_justify="left", caption=caption)
        table.add_column("Run / flow", no_wrap=True)
        table.add_column("Window (UTC)", no_wrap=True)
        table.add_column("Elapsed", no_wrap=True)
        table.add_column("Rows/s", justify="right", no_wrap=True)
        table.add_column("Records in", no_wrap=True)
        table.add_column("Records out", no_wrap=True)
        table.add_column("Failed", justify="right", no_wrap=True)
        for run in runs:
            flow_id = str(run.get("flowId", ""))
            records = _records(run)
            read, written = records.get("inputRecordCount", 0), records.get("outputRecordCount", 0)
            expected = self.expected_records(flow_id)
            read_label = f"{read:,}" + (f" / ~{expected:,}" if expected else "")
            table.add_row(
                Text.assemble(str(run.get("id", "")), "\n", (self.flow_name(flow_id), "dim")),
                _window(run),
                _elapsed(run, now_ms),
                rate_text(read, elapsed_ms(run, now_ms)),
                _bar(read, max(expected, read) if expected else None, read_label),
                _bar(written, read or None, f"{written:,} / {read:,}"),
                f"{records.get('failedRecordCount', 0):,}",
            )
        return table


def watch_runs(
    flow: Annotated[str | None, typer.Option("--flow", help="Only this flow's runs.")] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.2, help="Seconds between refreshes.")
    ] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Print one frame and exit (for scripts).")
    ] = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Watch the runs in progress, refreshing until Ctrl-C."""
    if output is OutputFormat.json and not once:
        fail("--output json prints one frame: add --once")
    with api_errors(), open_client(url, credentials) as client:
        board = RunBoard(client, flow)
        runs = board.fetch()
        if output is OutputFormat.json:
            print_json(runs)
            return
        if once:
            print_frame(board.render(runs))
            return
        _follow(board, runs, interval)


def print_frame(table: Table) -> None:
    """On a terminal, as wide as the terminal; in a pipe or a log, at the table's natural
    width, so that ids stay whole instead of being cut at 80 columns."""
    if console.is_terminal:
        console.print(table)
        return
    natural = Measurement.get(console, console.options.update_width(1_000), table).maximum
    Console(file=console.file, width=max(console.width, natural), color_system=None).print(table)


def _refresh(board: RunBoard, runs: list[JsonObject]) -> tuple[list[JsonObject], Table]:
    try:
        fresh = board.fetch()
        ended = board.end_lines(runs, fresh)
    except httpx.TransportError as error:
        # Keep the last frame: a restarting server is not the end of the watch.
        return runs, board.render(runs, note=f"cannot reach the server ({error}); retrying")
    for line in ended:  # above the live table on a terminal, between frames elsewhere
        console.print(line, highlight=False, soft_wrap=True)
    return fresh, board.render(fresh)


def _follow(board: RunBoard, runs: list[JsonObject], interval: float) -> None:
    """Refresh until Ctrl-C: in place on a terminal, frame after frame anywhere else."""
    try:
        if console.is_terminal:
            with Live(board.render(runs), console=console, refresh_per_second=4) as live:
                while True:
                    time.sleep(interval)
                    runs, table = _refresh(board, runs)
                    live.update(table)
        else:
            table = board.render(runs)
            while True:
                print_frame(table)
                time.sleep(interval)
                runs, table = _refresh(board, runs)
    except KeyboardInterrupt:
        pass
