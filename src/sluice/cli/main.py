"""The `sluice` command: entry point and command groups."""

from __future__ import annotations

import typer

from sluice import __version__
from sluice.cli import admin, backfills, engine, resources, runs, webhooks
from sluice.cli.output import GuardedTyper
from sluice.cli.serve import serve

app = GuardedTyper(
    name="sluice",
    help="Sluice: an open-source flow service for batch ingestion into Delta Lake.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"sluice {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Sluice command line."""


app.command()(serve)
app.command()(engine.worker)
app.command()(engine.scheduler)
app.add_typer(admin.app, name="admin")
app.add_typer(runs.app, name="runs")
app.add_typer(backfills.app, name="backfills")
app.add_typer(webhooks.app, name="webhooks")
resources.register(app)

if __name__ == "__main__":
    app()
