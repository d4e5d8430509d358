"""The options every `list` command takes: --property, --orderby, --limit; and the --limit of
the commands that read rows (a dataset's preview and history, a run's bad rows)."""

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
# Rows read from a dataset or a run: the API answers at most 1000 of them.
RowsLimitOption = Annotated[int, typer.Option("--limit", "-l", min=1, max=1000)]
