"""Helpers shared by the readers: bounded batches, identifier quoting, secret-free errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa


def bounded(batches: Iterable[pa.RecordBatch], max_rows: int) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of at most `max_rows` rows (zero-copy slices), none empty.

    A larger batch is cut into equal slices, never into full ones and a small remainder: the
    Delta writer handles a stream of alternating 65,536- and 223-row batches with twice the
    memory of the same rows in equal halves (bench/README.md, "Third round")."""
    max_rows = max(1, max_rows)
    for batch in batches:
        parts = -(-batch.num_rows // max_rows)  # ceiling
        if parts <= 1:
            if batch.num_rows:
                yield batch
            continue
        size, longer = divmod(batch.num_rows, parts)  # the first `longer` slices get one more
        offset = 0
        for part in range(parts):
            rows = size + (part < longer)
            yield batch.slice(offset, rows)
            offset += rows


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier (PostgreSQL and SQLite)."""
    return '"' + name.replace('"', '""') + '"'


def one_line(text: str, limit: int = 500) -> str:
    """A driver message on one line, without the echoed query, at most `limit` characters."""
    text = text.split("Query was:", 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
