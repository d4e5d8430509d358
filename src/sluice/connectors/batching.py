"""Helpers shared by the readers: bounded batches, identifier quoting, secret-free errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa


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
