"""Helpers shared by the readers: bounded batches, identifier quoting, secret-free errors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import pyarrow as pa

from sluice.domain.errors import bad_request


def bounded(batches: Iterable[pa.RecordBatch], max_rows: int) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of at most `max_rows` rows (zero-copy slices), none empty."""
    max_rows = max(1, max_rows)
    for batch in batches:
        for offset in range(0, batch.num_rows, max_rows):
            yield batch.slice(offset, max_rows)


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier (PostgreSQL and SQLite)."""
    return '"' + name.replace('"', '""') + '"'


def one_line(text: str, limit: int = 500) -> str:
    """A driver message on one line, without the echoed query, at most `limit` characters."""
    text = text.split("Query was:", 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ReflectedColumn(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def delta_kind(self) -> object: ...


ColumnT = TypeVar("ColumnT", bound=ReflectedColumn)


def find_column(columns: Sequence[ColumnT], name: str) -> ColumnT | None:
    """The column named exactly `name`, else the only one equal to it ignoring case (a request
    may say `DOB` for an unquoted PostgreSQL column stored as `dob`)."""
    exact = next((c for c in columns if c.name == name), None)
    if exact is not None:
        return exact
    folded = [c for c in columns if c.name.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def windowability_problem(
    table_name: str,
    columns: Sequence[ReflectedColumn],
    column: str,
    *,
    type_of: Callable[[Any], str],
    accepted_types: str,
) -> str | None:
    """Why `column` cannot select a window of the table (missing, or of another type); None
    when it can."""
    found = find_column(columns, column)
    if found is None:
        names = ", ".join(c.name for c in columns)
        return f'column "{column}" does not exist in table "{table_name}"; columns are {names}'
    if found.delta_kind is None:
        return (
            f'column "{found.name}" of table "{table_name}" has type {type_of(found)}, which '
            f"cannot select a window; use a {accepted_types} column"
        )
    return None


def require_windowable(table_name: str, table: object | None, problem: str | None) -> None:
    """BadRequestError (1000) when the table is missing or its delta column cannot window."""
    if table is None:
        raise bad_request(1000, f'table "{table_name}" does not exist')
    if problem is not None:
        raise bad_request(1000, problem)
