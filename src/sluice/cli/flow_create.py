"""`sluice flows create`: a flow from options, or a wizard asking for what they leave out.

The steps are the dashboard's: source (a table, or a path or glob with its format) ->
dataset (new or existing) -> options (write mode, primary key, delta column) -> schedule
(with its next ticks) -> review of the exact API bodies -> create.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from sluice.cli.flow_bodies import FlowDraft, create_all, requests_for, review_text
from sluice.cli.output import OutputFormat, OutputOption, console, fail, print_json
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.cli.run_views import iso_seconds
from sluice.cli.runs import time_option
from sluice.client import JsonObject, SluiceClient

FREQUENCIES = ("once", "minute", "hour", "day", "week")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400, "week": 604_800}
FILE_FORMATS = ("delimited", "json", "parquet")
WRITE_MODES = ("append", "replaceWindow", "merge")
LISTED = 30


def next_ticks(start: int, frequency: str, interval: int, count: int = 5) -> list[int]:
    if frequency == "once":
        return [start]
    step = _SECONDS[frequency] * max(interval, 1)
    return [start + k * step for k in range(count)]


def _choose(
    label: str, choices: list[str], default: str | None = None, *, free: bool = False
) -> str:
    """A numbered choice; the number or the text itself is accepted (`free`: any text)."""
    for i, choice in enumerate(choices, 1):
        console.print(f"  {i}. {choice}", highlight=False)
    while True:
        answer = str(typer.prompt(label, default=default or "1")).strip()
        if answer.isdigit() and 0 < int(answer) <= len(choices):
            return choices[int(answer) - 1]
        if answer in choices or (free and answer and not answer.isdigit()) or not choices:
            return answer
        console.print(f"Pick 1 to {len(choices)}.", style="red", highlight=False)


def _source_kind(client: SluiceClient, connection: JsonObject) -> tuple[str, bool]:
    spec_id = str((connection.get("connectionSpec") or {}).get("id", ""))
    spec = client.connection_specs.get(spec_id)
    source_type = str((spec.get("sourceSpec") or {}).get("type", "Table"))
    return spec_id, source_type.lower() == "file"


def _columns(client: SluiceClient, connection_id: str, table: str) -> list[JsonObject]:
    try:
        found = client.connections.explore(connection_id, "table", table)
    except Exception:
        return []
    return list((found.get("schema") or {}).get("columns") or []) if isinstance(found, dict) else []


def _wizard_source(client: SluiceClient, draft: FlowDraft) -> None:
    """Step 1: the table, or the path or glob and its format."""
    if draft.file_source:
        console.print("[bold]1. Source[/bold]: files of the connection")
        if draft.path is None:
            draft.path = typer.prompt("Path or glob under the connection's root", default="*.csv")
        if "format" not in draft.data:
            draft.data["format"] = _choose("Format", list(FILE_FORMATS))
        if draft.data["format"] == "delimited" and "columnDelimiter" not in draft.data:
            draft.data["columnDelimiter"] = typer.prompt("Column delimiter", default=",")
        return
    console.print("[bold]1. Source[/bold]: a table of the connection")
    if draft.table is None:
        try:
            listed = client.connections.explore(draft.connection_id, "root")
        except Exception:
            listed = []
        names = [str(i.get("path") or i.get("name")) for i in listed if isinstance(i, dict)]
        if names:
            console.print(f"What the connection reaches (first {min(len(names), LISTED)}):")
        draft.table = _choose("Table (a number, or schema.table)", names[:LISTED], free=True)


def _wizard_dataset(client: SluiceClient, draft: FlowDraft) -> None:
    console.print("[bold]2. Dataset[/bold]")
    if draft.dataset_id or draft.new_dataset:
        return
    if typer.confirm("Write into a new dataset?", default=True):
        default = (draft.table or draft.path or draft.name).split(".")[-1].strip("*/")
        draft.new_dataset = typer.prompt("New dataset name", default=default or draft.name)
        return
    datasets = client.datasets.list(limit=LISTED)
    labels = [f"{d.get('name')} ({d.get('id')})" for d in datasets]
    picked = _choose("Dataset (a number, or its id)", labels, free=True)
    draft.dataset_id = str(datasets[labels.index(picked)]["id"]) if picked in labels else picked


def _wizard_options(client: SluiceClient, draft: FlowDraft) -> None:
    console.print("[bold]3. Options[/bold]")
    if "writeMode" not in draft.options:
        default = "append" if draft.file_source else "replaceWindow"
        mode = _choose("Write mode", list(WRITE_MODES), str(WRITE_MODES.index(default) + 1))
        draft.options["writeMode"] = mode
    if draft.options["writeMode"] == "merge" and not draft.options.get("primaryKey"):
        keys = typer.prompt("Primary key columns (comma-separated)")
        draft.options["primaryKey"] = [k.strip() for k in keys.split(",") if k.strip()]
    if draft.file_source or draft.delta_column is not None or draft.table is None:
        return
    columns = _columns(client, draft.connection_id, draft.table)
    if columns:
        console.print("Columns: " + ", ".join(f"{c['name']} ({c['type']})" for c in columns))
    answer = typer.prompt(
        "Delta column (rows are picked by it per window; empty to choose it on the first run)",
        default="",
        show_default=False,
    ).strip()
    draft.delta_column = answer or None


def _wizard_schedule(draft: FlowDraft, start_given: bool) -> None:
    console.print("[bold]4. Schedule[/bold]")
    draft.frequency = _choose(
        "Frequency", list(FREQUENCIES), str(FREQUENCIES.index(draft.frequency) + 1)
    )
    if draft.frequency != "once" and draft.interval is None:
        default = "15" if draft.frequency == "minute" else "1"
        draft.interval = int(typer.prompt("Interval", default=default, type=int))
    if not start_given:
        text = typer.prompt(
            "Start (ISO-8601 UTC or epoch seconds)", default=iso_seconds(draft.start_time)
        )
        draft.start_time = time_option("start", text)
    if draft.frequency != "once" and draft.backfill is None:
        draft.backfill = typer.confirm("Backfill everything before the start?", default=False)


def _ticks_text(draft: FlowDraft) -> str:
    ticks = next_ticks(draft.start_time, draft.frequency, draft.interval or 1)
    return ", ".join(iso_seconds(t) for t in ticks)


def create_flow(
    name: Annotated[str | None, typer.Option("--name", help="The flow's name.")] = None,
    source_connection: Annotated[
        str | None, typer.Option("--source-connection", help="Base connection id to read.")
    ] = None,
    source_table: Annotated[
        str | None, typer.Option("--source-table", help="Table to read (table sources).")
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Path or glob to read (file sources).")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="delimited, json or parquet (file sources).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Column delimiter of delimited files.")
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Existing dataset id.")] = None,
    new_dataset: Annotated[
        str | None, typer.Option("--new-dataset", help="Name of a new dataset to write.")
    ] = None,
    schedule: Annotated[
        str, typer.Option("--schedule", help="once, minute, hour, day or week.")
    ] = "once",
    interval: Annotated[int | None, typer.Option("--interval", min=1)] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First tick: ISO-8601 or epoch s (default +1 min)."),
    ] = None,
    backfill: Annotated[bool | None, typer.Option("--backfill/--no-backfill")] = None,
    write_mode: Annotated[
        str | None, typer.Option("--write-mode", help="append, replaceWindow or merge.")
    ] = None,
    primary_key: Annotated[
        list[str] | None, typer.Option("--primary-key", help="Merge key column (repeat).")
    ] = None,
    delta_column: Annotated[
        str | None, typer.Option("--delta-column", help="Column that picks a window's rows.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", help="Any other flow option as key=JSON, e.g. errorDiagnosticsEnabled=true."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Wizard: create after the review without asking.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the API bodies; create nothing.")
    ] = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Create a flow. Given --source-connection, --source-table or --path, and --dataset or
    --new-dataset, it asks nothing; otherwise a wizard asks for the rest, step by step."""
    check_choice("--schedule", schedule, FREQUENCIES)
    check_choice("--write-mode", write_mode, WRITE_MODES)
    if dataset and new_dataset:
        fail("give --dataset (an existing one) or --new-dataset (a new one), not both")
    if source_table and path:
        fail("give --source-table (a table source) or --path (a file source), not both")
    options = flow_options(option or [], write_mode, primary_key)
    complete = bool(source_connection and (source_table or path) and (dataset or new_dataset))
    interactive = not complete
    with api_errors(), open_client(url, credentials) as client:
        if source_connection is None:
            connections = client.connections.list(limit=LISTED)
            if not connections:
                fail("no connections yet: create one first (sluice connections create --spec ...)")
            labels = [f"{c.get('name')} ({c.get('id')})" for c in connections]
            picked = _choose("Connection to read (a number, or its id)", labels, free=True)
            source_connection = (
                str(connections[labels.index(picked)]["id"]) if picked in labels else picked
            )
        connection = client.connections.get(source_connection)
        spec_id, file_source = _source_kind(client, connection)
        if file_source and source_table:
            fail("--source-table: this connection reads files; give --path instead")
        if not file_source and path:
            fail("--path: this connection reads tables; give --source-table instead")
        draft = FlowDraft(
            name=name or "",
            connection_id=source_connection,
            connection_spec_id=spec_id,
            file_source=file_source,
            table=source_table,
            path=path,
            data={k: v for k, v in (("format", file_format), ("columnDelimiter", delimiter)) if v},
            dataset_id=dataset,
            new_dataset=new_dataset,
            frequency=schedule,
            interval=interval,
            start_time=time_option("--start", start) if start else int(time.time()) + 60,
            backfill=backfill,
            delta_column=delta_column,
            options=options,
        )
        if file_source and "format" not in draft.data and not interactive:
            draft.data["format"] = "delimited"
        if interactive:
            _wizard_source(client, draft)
        if not draft.name:
            base = (draft.table or draft.path or "flow").split(".")[-1]
            draft.name = typer.prompt("Flow name", default=base) if interactive else base
        if interactive:
            _wizard_dataset(client, draft)
            _wizard_options(client, draft)
            _wizard_schedule(draft, start_given=start is not None)
        requests = requests_for(draft)
        if interactive or dry_run:
            console.print("[bold]5. Review[/bold]: the requests Sluice will send")
            typer.echo(review_text(requests))
            console.print(f"Next ticks (UTC): {_ticks_text(draft)}", highlight=False)
        if dry_run:
            return
        if interactive and not yes and not typer.confirm("Create?", default=True):
            fail("nothing created")
        created = create_all(client, requests)
    if output is OutputFormat.json:
        print_json(created)
        return
    console.print(f"Created flow {created['flow']} ({draft.name})", highlight=False)
    for what, new_id in created.items():
        if what != "flow":
            console.print(f"  {what}: {new_id}", highlight=False)


def check_choice(option: str, value: str | None, choices: Sequence[str]) -> None:
    """Refuse a value the option does not offer (None: the option was not given)."""
    if value is not None and value not in choices:
        fail(f"{option}: '{value}' is not one of {', '.join(choices)}")


def flow_options(
    pairs: list[str], write_mode: str | None, primary_key: list[str] | None
) -> dict[str, Any]:
    """The flow options `flows create` and `flows edit` send: every --option key=JSON (text
    that is not JSON is taken as it is), then --write-mode and --primary-key."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--option: '{pair}' is not key=value")
        try:
            options[key.strip()] = json.loads(raw)
        except ValueError:
            options[key.strip()] = raw
    if write_mode:
        options["writeMode"] = write_mode
    if primary_key:
        options["primaryKey"] = list(primary_key)
    return options
