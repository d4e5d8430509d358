"""The PostgreSQL reader writes its window's bounds as typed literals: each reads back on the
server as the exact value Sluice computed, anything else is refused, and the planner sees
the window (a whole table is scanned in order, a narrow window goes through the index)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from adbc_driver_manager import dbapi

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.postgresql.catalog import bound_literal
from sluice.connectors.postgresql.reader import open_source
from sluice.connectors.reading import ReadRequest
from sluice.domain.windows import Bound, DeltaKind, Window
from support.connector_reads import pg_auth, pg_dsn, read_all

MakeTable = Callable[..., str]
CONTEXT = ConnectorContext(
    allowed_file_roots=(), lake_dir=Path("unused-lake"), metadata_database_url="sqlite:///x.db"
)
T0 = datetime(2024, 3, 1, tzinfo=UTC)
MINUS_NINE_THIRTY = timezone(timedelta(hours=-9, minutes=-30))


@pytest.mark.parametrize(
    ("kind", "bound", "expected"),
    [
        (DeltaKind.EPOCH, 1_709_251_200, 1_709_251_200),
        (DeltaKind.EPOCH, -86_401, -86_401),
        (DeltaKind.DATE, date(2024, 2, 29), date(2024, 2, 29)),
        (DeltaKind.DATE, date(1, 1, 1), date(1, 1, 1)),
        (
            DeltaKind.TIMESTAMP,
            datetime(2024, 3, 31, 2, 30, 0, 7),
            datetime(2024, 3, 31, 2, 30, 0, 7),
        ),
        (
            DeltaKind.TIMESTAMPTZ,
            datetime(2024, 3, 1, 0, 0, 0, 999_999, tzinfo=MINUS_NINE_THIRTY),
            datetime(2024, 3, 1, 9, 30, 0, 999_999, tzinfo=UTC),
        ),
    ],
)
def test_a_bound_reads_back_as_the_value_it_was_written_from(
    kind: DeltaKind, bound: Bound, expected: Any
) -> None:
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        connection.execute("SET TIME ZONE 'Asia/Kolkata'")  # the session's zone plays no part
        (value,) = connection.execute(f"SELECT {bound_literal(kind, bound)}").fetchone()  # type: ignore[misc]
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("kind", "bound"),
    [
        (DeltaKind.EPOCH, True),
        (DeltaKind.EPOCH, "1; DROP TABLE x"),
        (DeltaKind.DATE, datetime(2024, 1, 1)),
        (DeltaKind.DATE, "2024-01-01"),
        (DeltaKind.TIMESTAMP, datetime(2024, 1, 1, tzinfo=UTC)),
        (DeltaKind.TIMESTAMPTZ, datetime(2024, 1, 1)),
        (DeltaKind.TIMESTAMPTZ, date(2024, 1, 1)),
    ],
)
def test_a_bound_of_the_wrong_type_is_refused(kind: DeltaKind, bound: Any) -> None:
    with pytest.raises(TypeError):
        bound_literal(kind, bound)


@pytest.fixture
def read_queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SELECTs the reader hands the driver (which wraps each in a binary COPY)."""
    seen: list[str] = []
    real_execute = dbapi.Cursor.execute

    def recording(cursor: dbapi.Cursor, operation: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(operation, str) and operation.startswith("SELECT ") and " AS " in operation:
            seen.append(operation)
        return real_execute(cursor, operation, *args, **kwargs)

    monkeypatch.setattr(dbapi.Cursor, "execute", recording)
    yield seen


def _plan(query: str) -> str:
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        rows = connection.execute(f"EXPLAIN {query}").fetchall()
    return "\n".join(row[0] for row in rows)


def test_the_planner_sees_the_window(pg_table: MakeTable, read_queries: list[str]) -> None:
    table = pg_table("id int, at timestamptz")
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        connection.execute(
            f"INSERT INTO \"{table}\" SELECT g, %s::timestamptz + g * interval '1 minute' "
            "FROM generate_series(0, 19999) g",
            (T0,),
        )
        connection.execute(f'CREATE INDEX ON "{table}" (at)')
        connection.execute(f'ANALYZE "{table}"')
    start = int(T0.timestamp())
    windows = {
        "whole table": Window(start, start + 20_000 * 60),
        "ten rows": Window(start, start + 600),
    }
    plans = {}
    for name, window in windows.items():
        read = open_source(
            CONTEXT,
            pg_auth(),
            {"data": {}, "params": {"tableName": table}},
            ReadRequest(window=window, delta_column="at"),
        )
        rows, _ = read_all(read)
        assert rows.num_rows == (20_000 if name == "whole table" else 10)
        plans[name] = _plan(read_queries[-1])
    assert "Seq Scan" in plans["whole table"], plans["whole table"]
    assert "Index" in plans["ten rows"], plans["ten rows"]
