"""The PostgreSQL reader against the real server: it counts its window's rows (the source side
of a run's reconciliation), turns `infinity` timestamps and dates into coded bad rows, and
reports a missing table as such."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import SourceMissingError, TransientReadError
from sluice.connectors.postgresql import reader, transactions
from sluice.connectors.postgresql.reader import open_source
from sluice.connectors.reading import ReadRequest
from sluice.domain.windows import Window
from support.connector_reads import pg_auth, pg_dsn, read_all

MakeTable = Callable[..., str]
CONTEXT = ConnectorContext(
    allowed_file_roots=(), lake_dir=Path("unused-lake"), metadata_database_url="sqlite:///x.db"
)
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _source(table: str) -> dict[str, object]:
    return {"data": {}, "params": {"tableName": table}}


def test_a_window_read_counts_the_rows_of_its_window(pg_table: MakeTable) -> None:
    table = pg_table("id int, at timestamptz")
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        for row_id, hours in [(1, -1), (2, 0), (3, 5), (4, 24), (5, None)]:
            at = None if hours is None else T0.timestamp() + hours * 3600
            connection.execute(
                f'INSERT INTO "{table}" VALUES (%s, to_timestamp(%s))', (row_id, at)
            )
    start = int(T0.timestamp())
    request = ReadRequest(window=Window(start, start + 86_400), delta_column="at")
    read = open_source(CONTEXT, pg_auth(), _source(table), request)
    rows, _ = read_all(read)
    assert sorted(rows.column("id").to_pylist()) == [2, 3]
    assert read.progress.source_count == 2
    # A preview (a limit) does not pay for a count.
    preview = open_source(CONTEXT, pg_auth(), _source(table), ReadRequest(window=None, limit=1))
    read_all(preview)
    assert preview.progress.source_count is None


def _insert_at(table: str, rows: list[tuple[int, int]]) -> None:
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        for row_id, hours in rows:
            connection.execute(f'INSERT INTO "{table}" VALUES (%s, to_timestamp(%s))',
                               (row_id, T0.timestamp() + hours * 3600))


def test_the_count_made_beside_the_read_counts_the_reads_snapshot(
    pg_table: MakeTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The count runs on a connection of its own while the read streams; rows committed after
    # the read began are in neither, however late the count starts.
    table = pg_table("id int, at timestamptz")
    _insert_at(table, [(1, 1), (2, 2), (3, 3)])
    late = threading.Event()
    count_rows = transactions.count_rows

    def counted_late(*args: Any) -> int:
        assert late.wait(10)
        return count_rows(*args)

    monkeypatch.setattr(transactions, "count_rows", counted_late)
    start = int(T0.timestamp())
    request = ReadRequest(window=Window(start, start + 86_400), delta_column="at")
    read = open_source(CONTEXT, pg_auth(), _source(table), request)
    _insert_at(table, [(4, 4), (5, 5)])
    late.set()
    rows, _ = read_all(read)
    assert sorted(rows.column("id").to_pylist()) == [1, 2, 3]
    assert read.progress.source_count == 3


def test_the_count_beside_the_read_uses_no_parallel_workers(
    pg_table: MakeTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parallel workers would take CPU from the read it runs beside: the count's transaction
    # plans without them, and only it (the read's own session is pooled and keeps its own).
    table = pg_table("id int, at timestamptz")
    _insert_at(table, [(1, 1)])
    setting = "SELECT pg_catalog.current_setting('max_parallel_workers_per_gather')::int8"
    seen: list[int] = []
    count_rows = transactions.count_rows

    def with_setting(session: Any, sql: str, *args: Any) -> int:
        seen.append(count_rows(session, setting))
        return count_rows(session, sql, *args)

    monkeypatch.setattr(transactions, "count_rows", with_setting)
    read = open_source(CONTEXT, pg_auth(), _source(table), ReadRequest(window=None))
    rows, _ = read_all(read)
    assert rows.num_rows == 1 and read.progress.source_count == 1
    assert seen == [0]
    with psycopg.connect(pg_dsn()) as connection:
        server_default = connection.execute("SHOW max_parallel_workers_per_gather").fetchone()
    assert server_default is not None and int(server_default[0]) > 0


def test_without_a_second_connection_the_read_counts_in_its_own_transaction(
    pg_table: MakeTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A source at its connection limit: the count beside the read cannot connect, so the
    # read counts once its rows are read, in its own transaction (the same snapshot).
    table = pg_table("id int, at timestamptz")
    _insert_at(table, [(1, 1), (2, 2)])

    def no_connection(*args: Any) -> Any:
        raise TransientReadError("Could not connect: too many connections")

    monkeypatch.setattr(transactions, "AdbcSession", no_connection)
    read = open_source(CONTEXT, pg_auth(), _source(table), ReadRequest(window=None))
    _insert_at(table, [(3, 3)])  # committed after the read began: in neither
    rows, _ = read_all(read)
    assert sorted(rows.column("id").to_pylist()) == [1, 2]
    assert read.progress.source_count == 2


def test_a_part_closed_before_its_stream_starts_never_counts(
    pg_table: MakeTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A part of a parallel window (a read in a shared snapshot) counts beside its read only
    # once its stream starts: a part opened and closed unread (its sibling failed to open,
    # say) takes no second connection. A whole window's read counts as it opens.
    table = pg_table("id int, at timestamptz")
    _insert_at(table, [(1, 1)])
    counts: list[object] = []

    def recorded(*args: Any) -> Any:
        counts.append(args)
        raise TransientReadError("Could not connect")

    monkeypatch.setattr(transactions, "AdbcSession", recorded)
    with psycopg.connect(pg_dsn(), autocommit=True) as holder:  # shares its snapshot
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        row = holder.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        part = open_source(CONTEXT, pg_auth(), _source(table),
                           ReadRequest(window=None, snapshot=str(row[0])))
        part.close()
        assert counts == []
        assert not [t for t in threading.enumerate() if t.name == "sluice-count"]
        whole = open_source(CONTEXT, pg_auth(), _source(table), ReadRequest(window=None))
        whole.close()
        assert len(counts) == 1


def test_a_count_that_fails_everywhere_fails_the_read_before_its_stream_ends(
    pg_table: MakeTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pg_table("id int, at timestamptz")
    _insert_at(table, [(1, 1)])

    def refused(*args: Any) -> int:
        raise TransientReadError("Could not count the window's rows: connection refused")

    monkeypatch.setattr(transactions, "count_rows", refused)  # beside the read
    monkeypatch.setattr(reader, "count_rows", refused)  # and in its own transaction after it
    read = open_source(CONTEXT, pg_auth(), _source(table), ReadRequest(window=None))
    with pytest.raises(TransientReadError, match="count the window"):
        read_all(read)


def test_infinite_timestamps_and_dates_are_coded_bad_rows_never_values(
    pg_table: MakeTable,
) -> None:
    table = pg_table("id int, at timestamptz, plain timestamp, day date")
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        connection.execute(
            f"""INSERT INTO "{table}" VALUES
            (1, '2024-03-01 10:00+00', '2024-03-01 10:00', '2024-03-01'),
            (2, 'infinity', '2024-03-01 10:00', '2024-03-01'),
            (3, '2024-03-01 10:00+00', '-infinity', '2024-03-01'),
            (4, '2024-03-01 10:00+00', '2024-03-01 10:00', 'infinity'),
            (5, '-infinity', 'infinity', '-infinity'),
            (6, NULL, NULL, NULL)"""
        )
    read = open_source(CONTEXT, pg_auth(), _source(table), ReadRequest(window=None))
    rows, _ = read_all(read)
    assert sorted(rows.column("id").to_pylist()) == [1, 6]
    assert rows.column("at").to_pylist()[0] == datetime(2024, 3, 1, 10, tzinfo=UTC)
    reasons = {bad.location: bad.reason for bad in read.progress.bad_rows}
    assert len(reasons) == 4
    assert all(reason.startswith("CONNECTOR-2003") for reason in reasons.values())
    by_row = sorted(reasons.items())
    assert '"at" = infinity' in by_row[0][1]
    assert '"plain" = -infinity' in by_row[1][1]
    assert '"day" = infinity' in by_row[2][1]
    assert all(part in by_row[3][1] for part in (
        '"at" = -infinity', '"plain" = infinity', '"day" = -infinity'))
    assert read.progress.source_count == 6  # counted rows = landed + bad: reconciled


def test_numeric_nan_is_a_coded_bad_row_at_every_width(pg_table: MakeTable) -> None:
    # No Delta decimal holds NaN: narrow, wide and unconstrained numerics all report it as a
    # bad row naming the column. One too wide for a decimal lands as text, NaN included.
    table = pg_table(
        "id int, narrow numeric(12,2), wide numeric(30,4), loose numeric, huge numeric(50,2)")
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        connection.execute(
            f"""INSERT INTO "{table}" VALUES
            (1, 1.25, 2.5, 3.75, 'NaN'), (2, 'NaN', 1, 1, 1), (3, 1, 'NaN', 1, 1),
            (4, 1, 1, 'NaN', 1), (5, 'NaN', 'NaN', 'NaN', 1), (6, NULL, NULL, NULL, NULL),
            (7, -42.5, -1, -0.5, -1)"""
        )
    read = open_source(CONTEXT, pg_auth(), _source(table), ReadRequest(window=None))
    rows, _ = read_all(read)
    assert sorted(rows.column("id").to_pylist()) == [1, 6, 7]
    landed = {row["id"]: row for row in rows.to_pylist()}
    assert landed[1]["narrow"] == Decimal("1.25") and landed[7]["narrow"] == Decimal("-42.50")
    assert landed[1]["loose"] == Decimal("3.750000000000000000")
    assert landed[1]["huge"] == "NaN" and landed[7]["huge"] == "-1.00"
    reasons = sorted((bad.location, bad.reason) for bad in read.progress.bad_rows)
    assert [location.rsplit(":", 1)[1] for location, _ in reasons] == [
        "row 2", "row 3", "row 4", "row 5"]
    assert all(reason.startswith("CONNECTOR-2003") for _, reason in reasons)
    assert '"narrow" = NaN' in reasons[0][1] and '"wide" = NaN' in reasons[1][1]
    assert '"loose" = NaN' in reasons[2][1]
    assert all(f'"{name}" = NaN' in reasons[3][1] for name in ("narrow", "wide", "loose"))
    assert read.progress.source_count == 7


def test_a_missing_table_is_a_source_missing_error(pg_table: MakeTable) -> None:
    with pytest.raises(SourceMissingError) as raised:
        open_source(CONTEXT, pg_auth(), _source("no_such_table_xyz"), ReadRequest(window=None))
    assert raised.value.code == "CONNECTOR-1002-500"
    assert "no_such_table_xyz" in raised.value.message
