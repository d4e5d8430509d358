"""Options shared by the commands that talk to a running Sluice over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sluice.cli.output import fail
from sluice.client import SluiceClient
from sluice.config import Settings

DEFAULT_URL = "http://127.0.0.1:8080"

UrlOption = Annotated[
    str, typer.Option("--url", envvar="SLUICE_URL", help="Base URL of the Sluice API.")
]
CredentialsOption = Annotated[
    Path | None,
    typer.Option(
        "--credentials",
        help="credentials.json to use (default: the one in "
        "SLUICE_DATA_DIR, which defaults to ./.sluice).",
    ),
]


def credentials_path(explicit: Path | None) -> Path:
    return explicit if explicit is not None else Settings().credentials_path


def open_client(url: str, credentials: Path | None) -> SluiceClient:
    path = credentials_path(credentials)
    try:
        return SluiceClient.from_credentials_file(path, url)
    except FileNotFoundError:
        fail(
            f"no credentials at {path}: start `sluice serve` once (it writes them), "
            "or pass --credentials"
        )
    except ValueError as error:  # bad JSON or missing keys
        fail(f"unreadable credentials file {path}: {error}")
