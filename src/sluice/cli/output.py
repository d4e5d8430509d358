"""How the CLI prints: Rich tables or JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import httpx
import typer
import typer.main
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError

# Typer carries its own copy of click; its exceptions are the ones its commands raise.
from typer._click import exceptions as click_errors

from sluice.client import Created, SluiceApiError
from sluice.domain.errors import SluiceError
from sluice.lake.location import LakeConfigurationError

console = Console()
err_console = Console(stderr=True)

# (header, dotted path into the item)
Columns = Sequence[tuple[str, str]]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


OutputOption = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="Print a table or JSON.")
]


def lookup(item: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(item, dict):
            return None
        item = item.get(part)
    return item


def cell(value: Any, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    # Epoch milliseconds: the Flow Service's `createdAt`, the Catalog's `created`.
    if isinstance(value, int) and (path.endswith("At") or path in ("created", "updated")):
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, list):
        return ", ".join(cell(v, "") for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def print_json(value: Any) -> None:
    # Plain print: Rich would re-wrap long strings and break the JSON for a pipe.
    typer.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def print_items(
    items: Sequence[dict[str, Any]],
    columns: Columns,
    output: OutputFormat,
    title: str | None = None,
) -> None:
    if output is OutputFormat.json:
        print_json(list(items))
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for header, path in columns:
        # The id is what a user copies into the next command: keep it on one line.
        table.add_column(header, overflow="fold", no_wrap=path == "id")
    for item in items:
        table.add_row(*(cell(lookup(item, path), path) for _, path in columns))
    console.print(table)
    if not items:
        err_console.print("[dim]No items.[/dim]")


def print_item(item: dict[str, Any], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        print_json(item)
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in item.items():
        table.add_row(key, cell(value, key))
    console.print(table)


def print_written(
    written: Created, output: OutputFormat, message: str, *, highlight: bool | None = None
) -> None:
    """What a create or an edit answers: `{id, etag}` as JSON, else `message`."""
    if output is OutputFormat.json:
        print_json({"id": written.id, "etag": written.etag})
    else:
        console.print(message, highlight=highlight)


def fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]Error:[/bold red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def describe_api_error(error: SluiceApiError) -> str:
    where = f" (request id {error.request_id})" if error.request_id else ""
    return f"{error.code}: {error.message}{where}"


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one line on stderr and exit code 1."""
    try:
        yield
    except SluiceApiError as error:
        fail(describe_api_error(error))
    except SluiceError as error:
        fail(f"FLOW-{error.code}-{error.status}: {error.message}")
    except httpx.TransportError as error:
        url = error.request.url if _has_request(error) else "the server"
        fail(f"cannot reach {url}: {error}. Is `sluice serve` running? (see --url / SLUICE_URL)")
    except httpx.InvalidURL as error:
        fail(f"invalid URL: {error} (see --url / SLUICE_URL)")
    except httpx.HTTPError as error:
        fail(f"HTTP error: {type(error).__name__}: {error}")
    except OperationalError as error:
        fail(f"cannot use the metadata database: {error.orig} (see SLUICE_DATABASE_URL)")
    except LakeConfigurationError as error:
        fail(f"cannot use the lake: {error} (see SLUICE_LAKE_URI)")


def describe_settings_error(error: ValidationError) -> str:
    """The settings a process refused, by their environment names (the values are left out:
    some of them are secrets)."""
    problems = [
        f"SLUICE_{str(problem['loc'][0]).upper()}: {problem['msg']}"
        if problem["loc"]
        else str(problem["msg"])
        for problem in error.errors(include_input=False, include_url=False)
    ]
    return "invalid setting " + "; ".join(problems)


class GuardedTyper(typer.Typer):
    """The `sluice` command: whatever goes wrong ends as one line on stderr and exit code 1,
    never a traceback (SLUICE_DEBUG=1 lets it through, for bug reports)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._run(*args, **kwargs)
        except Exception as error:
            if os.environ.get("SLUICE_DEBUG"):
                raise
            if isinstance(error, ValidationError) and error.title == "Settings":
                message = describe_settings_error(error)
            else:
                message = (
                    f"unexpected {type(error).__name__}: {error} "
                    "(set SLUICE_DEBUG=1 to see the traceback)"
                )
            err_console.print(
                f"[bold red]Error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True
            )
            raise SystemExit(1) from None

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        """Click's own loop, but a usage error is one line too: what is wrong and where the
        command's help is (exit status 2, as click gives)."""
        command = typer.main.get_command(self)
        try:
            result = command.main(*args, **{**kwargs, "standalone_mode": False})
        except click_errors.NoArgsIsHelpError as error:
            typer.echo(error.ctx.get_help() if error.ctx else error.format_message())
            raise SystemExit(2) from None
        except click_errors.UsageError as error:
            where = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
            err_console.print(
                f"[bold red]Error:[/bold red] {escape(error.format_message())}{where}",
                highlight=False,
                soft_wrap=True,
            )
            raise SystemExit(error.exit_code) from None
        except click_errors.ClickException as error:
            fail(error.format_message())
        except typer.Abort:
            err_console.print("Aborted.", highlight=False)
            raise SystemExit(1) from None
        raise SystemExit(result if isinstance(result, int) else 0)


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018 - raises when the error was not tied to a request
    except RuntimeError:
        return False
    return True
