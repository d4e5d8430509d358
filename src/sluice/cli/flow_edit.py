"""`sluice flows edit ID`: change a flow's schedule and options with JSON Patch and If-Match."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sluice.cli.flow_create import FREQUENCIES, WRITE_MODES, check_choice, flow_options
from sluice.cli.output import (
    OutputFormat,
    OutputOption,
    describe_api_error,
    fail,
    print_json,
    print_written,
)
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.cli.runs import time_option
from sluice.client import SluiceApiError

Operation = dict[str, Any]


def _set(path: str, value: Any) -> Operation:
    # `add` sets a member whether or not it is there yet (RFC 6902 section 4.1).
    return {"op": "add", "path": path, "value": value}


def patch_operations(
    flow: dict[str, Any],
    *,
    name: str | None,
    description: str | None,
    schedule: str | None,
    interval: int | None,
    start: int | None,
    backfill: bool | None,
    options: dict[str, Any],
) -> list[Operation]:
    operations: list[Operation] = []
    if name is not None:
        operations.append(_set("/name", name))
    if description is not None:
        operations.append(_set("/description", description))
    if schedule is not None:
        operations.append(_set("/scheduleParams/frequency", schedule))
    if interval is not None:
        operations.append(_set("/scheduleParams/interval", interval))
    if start is not None:
        operations.append(_set("/scheduleParams/startTime", str(start)))
    if backfill is not None:
        operations.append(_set("/scheduleParams/backfill", backfill))
    if options:
        if not isinstance(flow.get("options"), dict):
            operations.append(_set("/options", options))
        else:
            operations += [_set(f"/options/{key}", value) for key, value in options.items()]
    return operations


def edit_flow(
    flow_id: Annotated[str, typer.Argument(help="Flow id.")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="once, minute, hour, day or week.")
    ] = None,
    interval: Annotated[int | None, typer.Option("--interval", min=1)] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First tick: ISO-8601 or epoch seconds.")
    ] = None,
    backfill: Annotated[bool | None, typer.Option("--backfill/--no-backfill")] = None,
    write_mode: Annotated[str | None, typer.Option("--write-mode")] = None,
    primary_key: Annotated[
        list[str] | None, typer.Option("--primary-key", help="Merge key column (repeat).")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="Any flow option as key=JSON.")
    ] = None,
    etag: Annotated[
        str | None,
        typer.Option(
            "--etag", help="The etag you read: refuse the edit if the flow changed since."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the patch only.")] = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Change a flow's name, schedule or options (a JSON Patch sent with If-Match: a change
    made by someone else meanwhile is refused with 412 and nothing is changed)."""
    check_choice("--schedule", schedule, FREQUENCIES)
    check_choice("--write-mode", write_mode, WRITE_MODES)
    options = flow_options(option or [], write_mode, primary_key)
    begin = time_option("--start", start) if start else None
    with api_errors(), open_client(url, credentials) as client:
        flow = client.flows.get(flow_id)
        operations = patch_operations(
            flow,
            name=name,
            description=description,
            schedule=schedule,
            interval=interval,
            start=begin,
            backfill=backfill,
            options=options,
        )
        if not operations:
            fail("nothing to change: give --schedule, --interval, --start, --write-mode, ...")
        if dry_run:
            print_json(operations)
            return
        expected = etag or str(flow["etag"])
        try:
            updated = client.flows.update(flow_id, operations, etag=expected)
        except SluiceApiError as error:
            if error.status == 412:
                fail(
                    f"flow {flow_id} changed since it was read (etag {expected}), so nothing "
                    "was changed: read it again (sluice flows show) and repeat the edit. "
                    f"{describe_api_error(error)}"
                )
            raise
    print_written(updated, output, f"Updated flow {flow_id} (etag {updated.etag})", highlight=False)
