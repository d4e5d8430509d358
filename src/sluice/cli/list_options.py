"""The options every `list` command takes: --property, --orderby, --limit."""

from __future__ import annotations

from typing import Annotated

import typer

# A page never asks for more than this, so a big --limit stays under the server's maximum.
MAX_PAGE_SIZE = 100

PropertyOption = Annotated[
    list[str] | None,
    typer.Option("--property", "-p", help="Filter such as name==Demo (repeat to AND)."),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", "-l", min=1, help="Show at most this many items.")
]
OrderOption = Annotated[
    str | None, typer.Option("--orderby", help="Sort field: name, +createdAt, -createdAt...")
]
