"""Parallel table windows on the real databases: a window read in 4 sub-windows at once lands
exactly the rows, types and counts of the same window read in one, with rows on every
sub-window edge and on the window's own edges."""

from __future__ import annotations

import functools
import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import SourceReadError
from sluice.connectors.merged_reads import MergedBatches, ParallelRead
from sluice.connectors.mysql.reader import open_source as mysql_open
from sluice.connectors.postgresql import reader as pg_reader
from sluice.connectors.postgresql import transactions as pg_transactions
from sluice.connectors.postgresql.connection import AdbcSession
from sluice.connectors.postgresql.reader import open_source as pg_open
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.connectors.sql_database.reader import open_source as sa_open
from sluice.connectors.sqlite.reader import open_source as sqlite_open
from sluice.connectors.tables import split_windows
from sluice.domain.windows import Window, split_window
from support.connector_reads import pg_auth, pg_dsn, pg_sqlalchemy_url, read_all
from support.mariadb import MariaTables, my_auth, my_execute, quoted

T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
DAY = 86_400
WINDOW = Window(T0, T0 + 4 * DAY)
# The window's edges and the cuts of its 4 sub-windows (a day each).
EDGES = [T0 + i * DAY for i in range(5)]
# One row just before, on and just after every edge, and one mid-day row per day.
OFFSETS = sorted({edge + d for edge in EDGES for d in (-1, 0, 1)} | {e + DAY // 2 for e in EDGES})
Opener = Callable[..., SourceRead]


def rows() -> Iterator[tuple[int, datetime, int, Decimal]]:
    for row_id, epoch in enumerate(OFFSETS, start=1):
        yield row_id, datetime.fromtimestamp(epoch, UTC), epoch, Decimal(f"{row_id}.25")


def expected_ids(column: str) -> list[int]:
    """The rows the window selects, by the rule (dates: their day's midnight in the window)."""
    if column == "day":
        def inside(epoch: int) -> bool:
            midnight = epoch - epoch % DAY
            return WINDOW.start <= midnight < WINDOW.end
    else:
        def inside(epoch: int) -> bool:
            return WINDOW.contains(epoch)
    return [row_id for row_id, _at, epoch, _amount in rows() if inside(epoch)]


def pg_source(table_maker: Callable[..., str]) -> tuple[Opener, dict[str, Any], str]:
    table = table_maker(
        "id int, at_tz timestamptz, at timestamp, day date, epoch bigint, amount numeric(12,2)")
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        for row_id, at, epoch, amount in rows():
            connection.execute(
                f'INSERT INTO "{table}" VALUES (%s, %s, %s, %s, %s, %s)',
                (row_id, at, at.replace(tzinfo=None), at.date(), epoch, amount))
        connection.execute(f'INSERT INTO "{table}" (id) VALUES (0)')
    return pg_open, pg_auth(), table


def mysql_source(tables: MariaTables) -> tuple[Opener, dict[str, Any], str]:
    table = tables.table("id int, at_tz timestamp(6) NULL, at datetime(6), day date,"
                         " epoch bigint, amount decimal(12,2)")
    values = [(i, at.replace(tzinfo=None), at.replace(tzinfo=None), at.date(), epoch, amount)
              for i, at, epoch, amount in rows()]
    my_execute(f"INSERT INTO {quoted(table)} VALUES (%s, %s, %s, %s, %s, %s)", values, many=True)
    my_execute(f"INSERT INTO {quoted(table)} (id) VALUES (0)")
    return mysql_open, my_auth(), table


def sqlite_source(root: Path) -> tuple[Opener, dict[str, Any], str]:
    path = root / "source.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (id INTEGER, at_tz DATETIME, at DATETIME, day DATE,"
                           " epoch INTEGER, amount DECIMAL(12,2))")
        connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", [
            (i, at.replace(tzinfo=None).isoformat(sep=" "), at.replace(tzinfo=None).isoformat(),
             at.date().isoformat(), epoch, str(amount)) for i, at, epoch, amount in rows()])
        connection.execute("INSERT INTO t (id) VALUES (0)")
    connection.close()
    return sqlite_open, {"path": str(path)}, "t"


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of a handful of rows are split too (real ones need MIN_ROWS_PER_PART each)."""
    monkeypatch.setattr(split_windows, "MIN_ROWS_PER_PART", 1)


@pytest.fixture
def tables() -> Iterator[MariaTables]:
    made = MariaTables()
    yield made
    made.drop_all()


@pytest.fixture(params=["postgresql", "mysql", "sqlite", "sql_database"])
def database(request: pytest.FixtureRequest, pg_table: Callable[..., str], tables: MariaTables,
             allowed_root: Path) -> tuple[Opener, dict[str, Any], str]:
    if request.param == "postgresql":
        return pg_source(pg_table)
    if request.param == "sql_database":  # the SQLAlchemy reader, on the PostgreSQL table
        _opener, _auth, table = pg_source(pg_table)
        return sa_open, {"url": pg_sqlalchemy_url()}, table
    if request.param == "mysql":
        return mysql_source(tables)
    return sqlite_source(allowed_root)


def read(context: ConnectorContext, database: tuple[Opener, dict[str, Any], str],
         column: str, parallelism: int) -> tuple[pa.Table, SourceRead]:
    opener, auth, table = database
    request = ReadRequest(window=WINDOW, delta_column=column, parallelism=parallelism,
                          batch_rows=3)
    opened = opener(context, auth, {"data": {}, "params": {"tableName": table}}, request)
    result, _batches = read_all(opened)
    return result.sort_by("id"), opened


def test_the_window_is_cut_on_the_edges_the_rows_sit_on() -> None:
    assert split_window(WINDOW, 4) == [Window(a, b) for a, b in itertools.pairwise(EDGES)]


@pytest.mark.parametrize("column", ["at_tz", "at", "day", "epoch"])
def test_four_sub_windows_land_exactly_the_rows_of_one(
    context: ConnectorContext, database: tuple[Opener, dict[str, Any], str], column: str
) -> None:
    serial, one = read(context, database, column, 1)
    parallel, four = read(context, database, column, 4)
    assert not isinstance(one, ParallelRead) and isinstance(four, ParallelRead)
    assert serial.column("id").to_pylist() == expected_ids(column)
    assert parallel.schema == serial.schema  # types preserved: decimals, zones, dates
    assert parallel.equals(serial)
    assert four.progress.input_records == one.progress.input_records == serial.num_rows
    assert four.progress.source_count == one.progress.source_count == serial.num_rows


def test_postgresql_parts_read_exactly_the_rows_their_count_saw(
    context: ConnectorContext, pg_table: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows inserted into and deleted from the window after the count decided the cut, before
    # the parts open: the parts share the count's exported snapshot, so they see none of it.
    database = pg_source(pg_table)
    table = database[2]
    expected = expected_ids("at_tz")
    open_all = split_windows._open_all

    def the_window_changes_meanwhile(*args: Any) -> list[SourceRead]:
        with psycopg.connect(pg_dsn(), autocommit=True) as connection:
            for row_id, epoch in ((1000, T0 + DAY // 3), (1001, T0 + 3 * DAY + 7)):
                connection.execute(f'INSERT INTO "{table}" (id, at_tz) VALUES (%s, %s)',
                                   (row_id, datetime.fromtimestamp(epoch, UTC)))
            connection.execute(f'DELETE FROM "{table}" WHERE id = ANY(%s)', (expected[:3],))
        return open_all(*args)

    monkeypatch.setattr(split_windows, "_open_all", the_window_changes_meanwhile)
    parallel, four = read(context, database, "at_tz", 4)
    assert isinstance(four, ParallelRead)
    assert parallel.column("id").to_pylist() == expected
    assert four.progress.source_count == len(expected)
    # The snapshot's holder was let go once the parts had it: a new read sees the changes.
    monkeypatch.setattr(split_windows, "_open_all", open_all)
    after, _ = read(context, database, "at_tz", 4)
    assert sorted(after.column("id").to_pylist()) == sorted([*expected[3:], 1000, 1001])


class CountsSeen:
    """Where a PostgreSQL read counted its window: in its own transaction, before any row
    moved (`first`), or on a thread beside a read (`beside`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.first: list[str] = []
        self.beside: list[str] = []
        for module, seen in ((pg_reader, self.first), (pg_transactions, self.beside)):
            monkeypatch.setattr(module, "count_rows", self._recording(seen))

    @staticmethod
    def _recording(seen: list[str]) -> Callable[..., int]:
        count_rows = pg_transactions.count_rows  # the real one, whichever module calls it

        def recorded(*args: Any) -> int:
            seen.append(threading.current_thread().name)
            return count_rows(*args)

        return recorded


def analyzed(database: tuple[Opener, dict[str, Any], str]) -> tuple[Opener, dict[str, Any], str]:
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        connection.execute(f'ANALYZE "{database[2]}"')
    return database


def test_postgresql_cuts_a_large_window_on_the_planners_estimate(
    context: ConnectorContext, pg_table: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No count before the rows move: the planner's estimate cuts the window, and each part
    counts its own rows beside its read, in the shared snapshot."""
    database = analyzed(pg_source(pg_table))
    counts = CountsSeen(monkeypatch)
    parallel, four = read(context, database, "at_tz", 4)
    assert isinstance(four, ParallelRead)
    assert parallel.column("id").to_pylist() == expected_ids("at_tz")
    assert counts.first == []
    assert counts.beside == ["sluice-count"] * 4
    assert four.progress.source_count == len(expected_ids("at_tz"))


def test_postgresql_counts_first_when_the_planner_cannot_say(
    context: ConnectorContext, pg_table: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no estimate (or one below the cut's size) the window is counted before it is
    read, and that count still cuts it; a window the count does not cut reads on that count."""
    database = analyzed(pg_source(pg_table))
    monkeypatch.setattr(pg_reader, "planned_rows", lambda *_args: None)
    counts = CountsSeen(monkeypatch)
    parallel, four = read(context, database, "at_tz", 4)
    assert isinstance(four, ParallelRead)
    assert parallel.column("id").to_pylist() == expected_ids("at_tz")
    assert len(counts.first) == 1 and counts.beside == ["sluice-count"] * 4
    assert four.progress.source_count == len(expected_ids("at_tz"))

    monkeypatch.setattr(split_windows, "MIN_ROWS_PER_PART", len(OFFSETS))
    counts.first.clear()
    counts.beside.clear()
    serial, one = read(context, database, "at_tz", 4)
    assert not isinstance(one, ParallelRead)
    assert serial.column("id").to_pylist() == expected_ids("at_tz")
    assert len(counts.first) == 1 and counts.beside == []
    assert one.progress.source_count == len(expected_ids("at_tz"))


def test_postgresql_parts_count_once_every_part_has_its_connection(
    context: ConnectorContext, pg_table: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source near its connection limit refuses a part's count (which the part then makes
    itself), never a part: no count connects before the window and all four parts have."""
    database = analyzed(pg_source(pg_table))
    connects: list[str] = []
    for module, what in ((pg_reader, "read"), (pg_transactions, "count")):

        def connect(*args: Any, session: Any = module.AdbcSession, what: str = what) -> Any:
            connects.append(what)
            return session(*args)

        monkeypatch.setattr(module, "AdbcSession", connect)
    parallel, four = read(context, database, "at_tz", 4)
    assert isinstance(four, ParallelRead)
    assert parallel.column("id").to_pylist() == expected_ids("at_tz")
    assert connects == ["read"] * 5 + ["count"] * 4


def test_postgresql_planned_rows_are_the_planners_estimate(
    context: ConnectorContext, pg_table: Callable[..., str]
) -> None:
    _opener, auth, table = analyzed(pg_source(pg_table))
    session = AdbcSession(context, auth)
    try:
        # A small analyzed table: the planner knows its rows exactly.
        assert pg_transactions.planned_rows(session, f'SELECT 1 FROM "{table}"') == len(OFFSETS) + 1
        assert pg_transactions.planned_rows(session, f'SELECT 1 FROM "{table}" WHERE false') == 0
    finally:
        session.close()


def test_a_failing_sub_window_fails_the_read_with_its_coded_error(
    context: ConnectorContext, allowed_root: Path
) -> None:
    """A value of another type on the third sub-window's lower edge only: the read fails as
    a serial read does."""
    opener, auth, table = sqlite_source(allowed_root)
    with sqlite3.connect(auth["path"]) as connection:
        connection.execute("UPDATE t SET epoch = 'lots' WHERE id = ?", (expected_ids("at")[8],))
    connection.close()
    errors = []
    for parallelism in (1, 4):
        request = ReadRequest(window=WINDOW, delta_column="at", parallelism=parallelism,
                              batch_rows=1)
        opened = opener(context, auth, {"data": {}, "params": {"tableName": table}}, request)
        with pytest.raises(SourceReadError) as caught:
            read_all(opened)
        errors.append((caught.value.code, caught.value.message))
    assert errors[0] == errors[1]
    assert errors[0][0] == "CONNECTOR-2001-500"


def test_a_failing_part_stops_the_others_and_every_part_is_closed() -> None:
    opened: list[int] = []
    closed: list[int] = []
    started = threading.Event()

    def part(number: int) -> Iterator[pa.RecordBatch]:
        opened.append(number)
        try:
            if number == 2:
                started.wait(5)
                raise SourceReadError("part 2 broke")
            for value in itertools.count():
                started.set()
                yield pa.record_batch({"n": [number, value]})
        finally:
            closed.append(number)

    merged = MergedBatches([functools.partial(part, n) for n in range(4)], threads=4)
    with pytest.raises(SourceReadError, match="part 2 broke"):
        for _batch in merged:
            pass
    assert 2 in closed and sorted(closed) == sorted(opened)  # a part never begun opens nothing


def test_a_consumer_that_stops_early_stops_every_thread() -> None:
    def endless() -> Iterator[pa.RecordBatch]:
        while True:
            yield pa.record_batch({"n": [1]})

    merged = MergedBatches([endless, endless, endless], threads=3)
    stream = iter(merged)
    assert next(stream).num_rows == 1
    stream.close()  # type: ignore[attr-defined]
    assert not any(thread.is_alive() for thread in threading.enumerate()
                   if thread.name.startswith("sluice-read-"))


def test_a_window_with_few_rows_is_read_as_one(
    context: ConnectorContext, allowed_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer than two parts' worth of rows: one read, one connection, as without the option;
    with enough rows for two parts only, two parts."""
    opener, auth, table = sqlite_source(allowed_root)
    rows_in_window = len(expected_ids("at"))
    request = ReadRequest(window=WINDOW, delta_column="at", parallelism=4)
    source = {"data": {}, "params": {"tableName": table}}
    monkeypatch.setattr(split_windows, "MIN_ROWS_PER_PART", rows_in_window // 2 + 1)
    one = opener(context, auth, source, request)
    assert not isinstance(one, ParallelRead)
    assert read_all(one)[0].num_rows == rows_in_window
    monkeypatch.setattr(split_windows, "MIN_ROWS_PER_PART", rows_in_window // 2)
    two = opener(context, auth, source, request)
    assert isinstance(two, ParallelRead) and two.progress.source_count == rows_in_window
    assert read_all(two)[0].num_rows == rows_in_window


def test_previews_and_full_loads_are_read_as_one(
    context: ConnectorContext, allowed_root: Path
) -> None:
    opener, auth, table = sqlite_source(allowed_root)
    source = {"data": {}, "params": {"tableName": table}}
    preview = opener(context, auth, source, ReadRequest(
        window=WINDOW, delta_column="at", parallelism=4, limit=2))
    full = opener(context, auth, source, ReadRequest(window=None, parallelism=4))
    assert not isinstance(preview, ParallelRead) and not isinstance(full, ParallelRead)
    assert read_all(preview)[0].num_rows == 2
    assert read_all(full)[0].num_rows == len(OFFSETS) + 1
