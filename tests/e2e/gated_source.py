"""A PostgreSQL source table and a view of it whose reader the test can hold mid-read.

The view calls a function on every row; at the gate row it waits for a shared advisory lock,
so a test that holds the lock (`SELECT pg_advisory_lock(gate_key)`) stops a run's read there
and lets it go by releasing the lock (or closing its connection).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from processes import pg_source, unique_name


@dataclass(frozen=True)
class GatedSource:
    table: str
    gated_view: str
    gate_key: int


@contextmanager
def gated_source(prefix: str, rows: int, updated_at: str, gate_row: int, *,
                 gate_the_count: bool) -> Iterator[GatedSource]:
    """A table of `rows` rows (id g from 1, `updated_at` the SQL expression of g given, an
    md5 payload) and its gated view, dropped at the end.

    `gate_the_count=False` holds only the read: a query counting the window's rows (the
    reconciliation count that comes before the read) passes the gate.
    """
    table = unique_name(prefix)
    view, gate = unique_name(f"{prefix}_gated"), unique_name(f"{prefix}_gate")
    key = random.randint(1, 2**31 - 1)
    at_gate = f"row_id = {gate_row}" + (
        "" if gate_the_count else " AND current_query() NOT LIKE '%count(*)%'")
    pg_source(f"""
        CREATE TABLE {table} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL,
                              payload text NOT NULL);
        INSERT INTO {table}
        SELECT g, {updated_at}, md5(g::text)
        FROM generate_series(1, {rows}) AS g;
        CREATE FUNCTION {gate}(row_id bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF {at_gate} THEN
                PERFORM pg_advisory_lock_shared({key});
                PERFORM pg_advisory_unlock_shared({key});
            END IF;
            RETURN true;
        END $$;
        CREATE VIEW {view} AS SELECT * FROM {table} WHERE {gate}(id);
    """)
    try:
        yield GatedSource(table, view, key)
    finally:
        pg_source(f"DROP VIEW IF EXISTS {view}; DROP FUNCTION IF EXISTS {gate}(bigint);"
                  f" DROP TABLE IF EXISTS {table}")
