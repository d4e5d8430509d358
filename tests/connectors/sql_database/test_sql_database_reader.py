"""The generic SQLAlchemy reader against real databases (PostgreSQL through psycopg, MariaDB
through pymysql, SQLite files): windows, types, batches and errors."""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import SourceReadError
from sluice.connectors.reading import ReadRequest
from sluice.connectors.registry import find_connector
from sluice.connectors.sql_database.reader import check_delta_column, open_source
from sluice.domain.errors import BadRequestError
from sluice.domain.windows import Window
from support.connector_reads import closed_port, pg_dsn, pg_sqlalchemy_url, read_all
from support.mariadb import FAKE_PASSWORD, MariaTables, my_execute, my_url, queries_left_on, quoted

T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
DAY = 86_400
PG_URL = pg_sqlalchemy_url()


@dataclass
class Backend:
    """One database the generic reader reads: its URL, and tables made for one test."""

    name: str
    url: str
    sqlite_file: Path | None = None
    made: list[str] = field(default_factory=list)
    maria: MariaTables = field(default_factory=MariaTables)

    def table(self, columns: str, name: str | None = None) -> str:
        table = name or f"sa_{uuid.uuid4().hex[:12]}"
        if self.name == "mysql":
            return self.maria.table(columns, name=table)
        self.execute(f"CREATE TABLE {self.quote(table)} ({columns})")
        self.made.append(table)
        return table

    def quote(self, name: str) -> str:
        return quoted(name) if self.name == "mysql" else '"' + name.replace('"', '""') + '"'

    def execute(self, sql: str, rows: list[tuple[Any, ...]] | None = None) -> None:
        if self.name == "mysql":
            my_execute(sql.replace("?", "%s"), rows, many=rows is not None)
        elif self.name == "postgresql":
            with psycopg.connect(pg_dsn(), autocommit=True) as connection:
                if rows is None:
                    connection.execute(sql)  # type: ignore[arg-type]
                else:
                    connection.cursor().executemany(sql.replace("?", "%s"), rows)  # type: ignore[arg-type]
        else:
            assert self.sqlite_file is not None
            with sqlite3.connect(self.sqlite_file) as connection:
                if rows is None:
                    connection.execute(sql)
                else:
                    connection.executemany(sql, rows)
            connection.close()

    def drop_all(self) -> None:
        self.maria.drop_all()
        if self.name == "postgresql":
            for table in self.made:
                self.execute(f"DROP TABLE IF EXISTS {self.quote(table)}")


def make_backend(name: str, allowed_root: Path) -> Backend:
    if name == "postgresql":
        return Backend(name, PG_URL)
    if name == "mysql":
        return Backend(name, my_url())
    path = allowed_root / "source.db"
    return Backend(name, f"sqlite:///{path}", sqlite_file=path)


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
def backend(request: pytest.FixtureRequest, allowed_root: Path) -> Iterator[Backend]:
    made = make_backend(request.param, allowed_root)
    yield made
    made.drop_all()


@pytest.fixture
def mysql(allowed_root: Path) -> Iterator[Backend]:
    made = make_backend("mysql", allowed_root)
    yield made
    made.drop_all()


@pytest.fixture
def postgresql(allowed_root: Path) -> Iterator[Backend]:
    made = make_backend("postgresql", allowed_root)
    yield made
    made.drop_all()


def source(table: str) -> dict[str, Any]:
    return {"data": {}, "params": {"tableName": table}}


def window(start: int, end: int, column: str, timezone: str = "UTC") -> ReadRequest:
    return ReadRequest(window=Window(start, end), delta_column=column, timezone=timezone)


def read_table(context: ConnectorContext, backend: Backend, table: str,
               request: ReadRequest) -> pa.Table:
    result, _ = read_all(open_source(context, {"url": backend.url}, source(table), request))
    return result


def read_ids(context: ConnectorContext, backend: Backend, table: str,
             request: ReadRequest) -> list[int]:
    return sorted(read_table(context, backend, table, request).column("id").to_pylist())


# The delta columns each backend has: an instant, a zone-less wall time, a date, an epoch.
EVENT_COLUMNS = {
    "postgresql": "id int, at_tz timestamptz, at timestamp, day date, epoch bigint",
    "mysql": "id int, at_tz timestamp(6) NULL, at datetime(6), day date, epoch bigint",
    "sqlite": "id INTEGER, at_tz DATETIME, at DATETIME, day DATE, epoch INTEGER",
}


@pytest.fixture
def events(backend: Backend) -> str:
    """Rows 1..5 at T0-1, T0, T0+1h, T0+1d-1, T0+1d in every delta type; row 6 all NULL."""
    table = backend.table(EVENT_COLUMNS[backend.name])
    rows = []
    for row_id, offset in {1: -1, 2: 0, 3: 3600, 4: DAY - 1, 5: DAY}.items():
        instant = datetime.fromtimestamp(T0 + offset, UTC)
        wall = instant.replace(tzinfo=None)
        if backend.name == "sqlite":
            text = wall.isoformat(sep=" ")
            rows.append((row_id, text, text, wall.date().isoformat(), T0 + offset))
        else:
            at_tz = instant if backend.name == "postgresql" else wall
            rows.append((row_id, at_tz, wall, wall.date(), T0 + offset))
    backend.execute(f"INSERT INTO {backend.quote(table)} VALUES (?, ?, ?, ?, ?)", rows)
    backend.execute(f"INSERT INTO {backend.quote(table)} (id) VALUES (6)")
    return table


@pytest.mark.parametrize("column", ["at_tz", "at", "epoch"])
def test_window_includes_its_start_and_excludes_its_end(
    context: ConnectorContext, backend: Backend, events: str, column: str
) -> None:
    assert read_ids(context, backend, events, window(T0, T0 + DAY, column)) == [2, 3, 4]


def test_date_window_by_local_midnight(context: ConnectorContext, backend: Backend,
                                       events: str) -> None:
    assert read_ids(context, backend, events, window(T0, T0 + DAY, "day")) == [2, 3, 4]
    assert read_ids(context, backend, events, window(T0, T0 + 1, "day")) == [2, 3, 4]
    assert read_ids(context, backend, events, window(T0 + 1, T0 + DAY, "day")) == []


@pytest.mark.parametrize("column", ["at_tz", "at", "day", "epoch"])
def test_consecutive_windows_union_is_the_table_exactly(
    context: ConnectorContext, backend: Backend, events: str, column: str
) -> None:
    cuts = [T0 - 2 * DAY, T0 - 1, T0, T0 + 1, T0 + 3600, T0 + DAY - 1, T0 + DAY, T0 + 9 * DAY]
    seen: list[int] = []
    for start, end in itertools.pairwise(cuts):
        seen += read_ids(context, backend, events, window(start, end, column))
    assert sorted(seen) == [1, 2, 3, 4, 5]


def test_no_window_reads_everything(context: ConnectorContext, backend: Backend,
                                    events: str) -> None:
    assert read_ids(context, backend, events, ReadRequest(window=None)) == [1, 2, 3, 4, 5, 6]


def test_zoneless_datetime_is_read_in_the_flow_timezone(context: ConnectorContext,
                                                        backend: Backend) -> None:
    kind = "timestamp" if backend.name == "postgresql" else "datetime"
    table = backend.table(f"id int, local_at {kind}")
    backend.execute(f"INSERT INTO {backend.quote(table)} VALUES (1, '2024-07-01 02:00:00'),"
                    " (2, '2024-07-01 01:59:59')")
    utc_midnight = int(datetime(2024, 7, 1, tzinfo=UTC).timestamp())
    paris = window(utc_midnight, utc_midnight + 3600, "local_at", "Europe/Paris")
    assert read_ids(context, backend, table, paris) == [1]
    utc = window(utc_midnight, utc_midnight + 3600, "local_at")
    assert read_ids(context, backend, table, utc) == []


def test_postgresql_types_are_preserved(context: ConnectorContext,
                                        postgresql: Backend) -> None:
    table = postgresql.table(
        "id bigint, amount numeric(12, 2), loose numeric, at timestamptz, wall timestamp,"
        " day date, paid bool, small int2, ratio real, share float8, name text, payload bytea,"
        " doc jsonb, tags int[]")
    postgresql.execute(
        f"INSERT INTO {postgresql.quote(table)} VALUES (1, 1234.56, 2.25,"
        " '2024-01-02 03:04:05.678901+02', '2024-01-02 03:04:05', '2024-01-02', true, -5,"
        " 1.5, 2.25, 'héllo', '\\x00ff', '{\"a\": 1}', '{1,2}'), (2, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    result = read_table(context, postgresql, table, ReadRequest(window=None)).sort_by("id")
    assert result.schema == pa.schema([
        ("id", pa.int64()), ("amount", pa.decimal128(12, 2)), ("loose", pa.decimal128(38, 18)),
        ("at", pa.timestamp("us", tz="UTC")), ("wall", pa.timestamp("us")), ("day", pa.date32()),
        ("paid", pa.bool_()), ("small", pa.int16()), ("ratio", pa.float32()),
        ("share", pa.float64()), ("name", pa.string()), ("payload", pa.binary()),
        ("doc", pa.string()), ("tags", pa.string())])
    assert result.to_pylist()[0] == {
        "id": 1, "amount": Decimal("1234.56"), "loose": Decimal("2.25"),
        "at": datetime(2024, 1, 2, 1, 4, 5, 678901, tzinfo=UTC),
        "wall": datetime(2024, 1, 2, 3, 4, 5), "day": date(2024, 1, 2), "paid": True,
        "small": -5, "ratio": 1.5, "share": 2.25, "name": "héllo", "payload": b"\x00\xff",
        "doc": '{"a": 1}', "tags": "[1, 2]"}
    assert set(result.to_pylist()[1].values()) == {2, None}


def test_mysql_types_are_preserved(context: ConnectorContext, mysql: Backend) -> None:
    table = mysql.table(
        "id bigint, amount decimal(12, 2), at timestamp(6) NULL, wall datetime, day date,"
        " flag tinyint(1), small tinyint, unsigned_big bigint unsigned, real_value float,"
        " double_value double, name varchar(20), payload blob, duration time, doc json")
    mysql.execute(
        f"INSERT INTO {quoted(table)} VALUES (1, 1234.56, '2024-01-02 03:04:05.5',"
        " '2024-01-02 03:04:05', '2024-01-02', 1, -5, 18446744073709551615, 1.5, 2.25, 'héllo',"
        " x'00ff', '-800:00:01', '{\"a\": 1}'), (2, NULL, NULL, '0000-00-00 00:00:00', NULL,"
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
    result = read_table(context, mysql, table, ReadRequest(window=None)).sort_by("id")
    assert result.schema == pa.schema([
        ("id", pa.int64()), ("amount", pa.decimal128(12, 2)),
        ("at", pa.timestamp("us", tz="UTC")), ("wall", pa.timestamp("us")), ("day", pa.date32()),
        ("flag", pa.bool_()), ("small", pa.int8()), ("unsigned_big", pa.decimal128(20, 0)),
        ("real_value", pa.float32()), ("double_value", pa.float64()), ("name", pa.string()),
        ("payload", pa.binary()), ("duration", pa.string()), ("doc", pa.string())])
    assert result.to_pylist()[0] == {
        "id": 1, "amount": Decimal("1234.56"), "at": datetime(2024, 1, 2, 3, 4, 5, 500000, UTC),
        "wall": datetime(2024, 1, 2, 3, 4, 5), "day": date(2024, 1, 2), "flag": True,
        "small": -5, "unsigned_big": Decimal(2**64 - 1), "real_value": 1.5,
        "double_value": 2.25, "name": "héllo", "payload": b"\x00\xff", "duration": "-800:00:01",
        "doc": '{"a": 1}'}
    assert set(result.to_pylist()[1].values()) == {2, None}  # the zero date reads as NULL


def test_sqlite_types_are_preserved(context: ConnectorContext, allowed_root: Path) -> None:
    backend = make_backend("sqlite", allowed_root)
    table = backend.table("id INTEGER, amount NUMERIC(12, 2), at DATETIME, day DATE,"
                          " paid BOOLEAN, ratio REAL, name TEXT, payload BLOB")
    backend.execute(f"INSERT INTO {table} VALUES (1, '1234.56', '2024-01-02 03:04:05',"
                    " '2024-01-02', 1, 1.5, 'héllo', x'00ff')")
    result = read_table(context, backend, table, ReadRequest(window=None))
    assert result.schema == pa.schema([
        ("id", pa.int64()), ("amount", pa.decimal128(12, 2)), ("at", pa.timestamp("us")),
        ("day", pa.date32()), ("paid", pa.bool_()), ("ratio", pa.float64()),
        ("name", pa.string()), ("payload", pa.binary())])
    assert result.to_pylist() == [{
        "id": 1, "amount": Decimal("1234.56"), "at": datetime(2024, 1, 2, 3, 4, 5),
        "day": date(2024, 1, 2), "paid": True, "ratio": 1.5, "name": "héllo",
        "payload": b"\x00\xff"}]


def test_large_table_streams_in_bounded_batches(context: ConnectorContext,
                                                backend: Backend) -> None:
    table = backend.table("id int, label varchar(40)")
    backend.execute(f"INSERT INTO {backend.quote(table)} VALUES (?, ?)",
                    [(i, f"row {i}") for i in range(1, 5001)])
    read = open_source(context, {"url": backend.url}, source(table),
                       ReadRequest(window=None, batch_rows=1000))
    result, batches = read_all(read)
    assert len(batches) >= 5 and all(0 < b.num_rows <= 1000 for b in batches)
    assert sorted(result.column("id").to_pylist()) == list(range(1, 5001))
    assert read.progress.input_records == 5000


def test_limit_is_pushed_down(context: ConnectorContext, backend: Backend, events: str) -> None:
    assert read_table(context, backend, events, ReadRequest(window=None, limit=3)).num_rows == 3
    limited = read_table(context, backend, events, ReadRequest(
        window=Window(T0, T0 + DAY), delta_column="epoch", limit=2))
    assert limited.num_rows == 2 and set(limited.column("id").to_pylist()) <= {2, 3, 4}


def test_closing_a_mysql_read_early_ends_its_query(context: ConnectorContext,
                                                   mysql: Backend) -> None:
    table = mysql.table("id int primary key")
    my_execute(f"INSERT INTO {quoted(table)} SELECT seq FROM seq_1_to_50000")
    read = open_source(context, {"url": mysql.url}, source(table),
                       ReadRequest(window=None, batch_rows=100))
    batches = read.batches()
    assert next(batches).num_rows == 100
    batches.close()
    assert queries_left_on(table) == 0


def test_identifiers_are_quoted_by_the_dialect(context: ConnectorContext,
                                               backend: Backend) -> None:
    name = "sa`tab'le\"" + uuid.uuid4().hex[:8]
    column = "we`ird \"col'"
    kind = "datetime" if backend.name != "postgresql" else "timestamp"
    table = backend.table(f"id int, {backend.quote(column)} {kind}", name=name)
    backend.execute(f"INSERT INTO {backend.quote(table)} VALUES (1, '2024-03-01 00:00:00'),"
                    " (2, '2024-03-02 00:00:00')")
    result = read_table(context, backend, table, window(T0, T0 + DAY, column))
    assert result.column_names == ["id", column]
    assert result.column("id").to_pylist() == [1]


def test_missing_and_unwindowable_delta_columns(context: ConnectorContext, backend: Backend,
                                                events: str) -> None:
    auth = {"url": backend.url}
    check_delta_column(context, auth, source(events), "epoch")
    with pytest.raises(BadRequestError) as missing:
        check_delta_column(context, auth, source(events), "updated")
    assert missing.value.code == 1000
    assert 'column "updated" does not exist' in missing.value.message
    table = backend.table("id int, label varchar(10)")
    with pytest.raises(BadRequestError) as unwindowable:
        check_delta_column(context, auth, source(table), "label")
    assert unwindowable.value.code == 1000
    assert "cannot select a window" in unwindowable.value.message
    with pytest.raises(SourceReadError) as read_failure:
        read_table(context, backend, table, window(T0, T0 + DAY, "label"))
    assert read_failure.value.transient is False


def test_missing_table(context: ConnectorContext, backend: Backend) -> None:
    backend.table("id int")  # the SQLite file exists
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(context, {"url": backend.url}, source("sluice_no_such_table"), "at")
    assert caught.value.code == 1000
    with pytest.raises(SourceReadError) as read_failure:
        read_table(context, backend, "sluice_no_such_table", ReadRequest(window=None))
    assert read_failure.value.transient is False
    # A missing source has its own code (issue 13), distinct from an unreachable one.
    assert read_failure.value.code == "CONNECTOR-1002-500"
    assert "does not exist" in read_failure.value.message


def test_wrong_password_is_terminal_and_hides_the_password(context: ConnectorContext) -> None:
    url = my_url(password=FAKE_PASSWORD)
    with pytest.raises(SourceReadError) as caught:
        open_source(context, {"url": url}, source("t"), ReadRequest(window=None))
    error = caught.value
    assert error.transient is False and "Access denied" in error.message
    chained: BaseException | None = error
    while chained is not None:
        assert "Fake-Pa55" not in str(chained)
        chained = chained.__cause__ or chained.__context__


@pytest.mark.parametrize("driver", ["mysql+pymysql", "postgresql+psycopg"])
def test_unreachable_server_is_transient(context: ConnectorContext, driver: str) -> None:
    url = f"{driver}://someone:Fake-Pa55%3Aw@127.0.0.1:{closed_port()}/test"
    with pytest.raises(SourceReadError) as caught:
        open_source(context, {"url": url}, source("t"), ReadRequest(window=None))
    assert caught.value.transient is True
    assert "Check the host and port" in caught.value.message
    assert "Fake-Pa55" not in caught.value.message


def test_refused_urls_are_terminal(context: ConnectorContext) -> None:
    for url in ("mssql+pyodbc://u:p@db/x", "mysql+pymysql://u:p@169.254.169.254/x"):
        with pytest.raises(SourceReadError) as caught:
            open_source(context, {"url": url}, source("t"), ReadRequest(window=None))
        assert caught.value.transient is False


def test_spec_sets_the_reader() -> None:
    connector = find_connector("8e1d2c47-6a3b-4f5e-9c0d-7b2a1f4e3d56")
    assert isinstance(connector, FunctionConnector)
    assert connector.spec.name == "SQL Database (SQLAlchemy)"
    assert connector.opener is open_source
    assert connector.delta_checker is check_delta_column
