"""The SQLite reader on real database files: declared types, windows, batches and errors."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import SourceReadError
from sluice.connectors.reading import ReadRequest
from sluice.connectors.registry import find_connector
from sluice.connectors.sqlite.reader import check_delta_column, open_source
from sluice.domain.errors import BadRequestError
from sluice.domain.windows import Window
from support.connector_reads import read_all

T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
DAY = 86_400
MakeDb = Callable[[str, Sequence[Sequence[Any]]], dict[str, Any]]


@pytest.fixture
def make_db(allowed_root: Path) -> MakeDb:
    """make(create_sql, rows) -> auth params of a database file holding table `t`."""

    def make(create: str, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
        path = allowed_root / "source.db"
        with sqlite3.connect(path) as connection:
            connection.execute(create)
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                connection.executemany(f"INSERT INTO t VALUES ({marks})", rows)
        connection.close()
        return {"path": str(path)}

    return make


SOURCE = {"data": {}, "params": {"tableName": "t"}}


def read(
    context: ConnectorContext, auth: dict[str, Any], request: ReadRequest
) -> tuple[pa.Table, list[pa.RecordBatch]]:
    return read_all(open_source(context, auth, SOURCE, request))


def ids(context: ConnectorContext, auth: dict[str, Any], request: ReadRequest) -> list[int]:
    return sorted(read(context, auth, request)[0].column("id").to_pylist())


def window(start: int, end: int, column: str, timezone: str = "UTC") -> ReadRequest:
    return ReadRequest(window=Window(start, end), delta_column=column, timezone=timezone)


@pytest.fixture
def events(make_db: MakeDb) -> dict[str, Any]:
    """Rows 1..5 at T0-1, T0, T0+1h, T0+1d-1, T0+1d; DATETIME text alternates ' ' and 'T'."""
    rows = []
    for row_id, offset in {1: -1, 2: 0, 3: 3600, 4: DAY - 1, 5: DAY}.items():
        instant = datetime.fromtimestamp(T0 + offset, UTC).replace(tzinfo=None)
        separator = "T" if row_id % 2 else " "
        rows.append((row_id, T0 + offset, instant.isoformat(sep=separator),
                     instant.isoformat(sep=separator) + ".250", instant.date().isoformat()))
    rows.append((6, None, None, None, None))
    return make_db(
        "CREATE TABLE t (id INTEGER, epoch INTEGER, at DATETIME, at_ms TIMESTAMP, day DATE)",
        rows,
    )


@pytest.mark.parametrize("column", ["epoch", "at", "at_ms"])
def test_window_includes_its_start_and_excludes_its_end(
    context: ConnectorContext, events: dict[str, Any], column: str
) -> None:
    assert ids(context, events, window(T0, T0 + DAY, column)) == [2, 3, 4]


def test_date_window_by_local_midnight(context: ConnectorContext, events: dict[str, Any]) -> None:
    assert ids(context, events, window(T0, T0 + 1, "day")) == [2, 3, 4]
    assert ids(context, events, window(T0 + 1, T0 + DAY, "day")) == []


@pytest.mark.parametrize("column", ["epoch", "at", "at_ms", "day"])
def test_consecutive_windows_union_is_the_table_exactly(
    context: ConnectorContext, events: dict[str, Any], column: str
) -> None:
    cuts = [T0 - 2 * DAY, T0 - 1, T0, T0 + 1, T0 + 3600, T0 + DAY - 1, T0 + DAY, T0 + 9 * DAY]
    seen: list[int] = []
    for start, end in itertools.pairwise(cuts):
        seen += ids(context, events, window(start, end, column))
    assert sorted(seen) == [1, 2, 3, 4, 5]


def test_datetime_is_read_in_the_flow_timezone(context: ConnectorContext, make_db: MakeDb) -> None:
    auth = make_db("CREATE TABLE t (id INTEGER, at DATETIME, day DATE)",
                   [(1, "2024-07-01 02:00:00", "2024-07-02"), (2, "2024-07-01 01:59:59", None)])
    utc_midnight = int(datetime(2024, 7, 1, tzinfo=UTC).timestamp())
    paris_hour = window(utc_midnight, utc_midnight + 3600, "at", "Europe/Paris")
    assert ids(context, auth, paris_hour) == [1]
    assert ids(context, auth, window(utc_midnight, utc_midnight + 3600, "at")) == []
    paris_midnight = utc_midnight + 22 * 3600  # 2024-07-02 00:00 in Paris
    assert ids(context, auth, window(paris_midnight, paris_midnight + 1, "day",
                                     "Europe/Paris")) == [1]


def test_declared_types_give_one_schema_for_every_batch(
    context: ConnectorContext, make_db: MakeDb
) -> None:
    rows = [
        (i,
         None if i < 5 else i * 1.5,
         None if i < 7 else f"s{i}",
         None if i < 3 else (12.345 if i == 5 else i),
         None if i < 4 else "2024-01-02",
         None if i < 6 else ("2024-01-02T10:00:00.5" if i % 2 else "2024-01-02 10:00"),
         None if i < 2 else i % 2,
         None if i < 8 else b"\x00\x01",
         i if i % 2 else "x",
         None if i < 9 else 3)
        for i in range(12)
    ]
    auth = make_db(
        "CREATE TABLE t (id INTEGER, r REAL, s TEXT, n DECIMAL(10,2), d DATE, dt DATETIME,"
        " b BOOLEAN, bl BLOB, x, num NUMERIC)",
        rows,
    )
    result, batches = read(context, auth, ReadRequest(window=None, batch_rows=3))
    assert result.schema == pa.schema([
        ("id", pa.int64()), ("r", pa.float64()), ("s", pa.string()),
        ("n", pa.decimal128(10, 2)), ("d", pa.date32()), ("dt", pa.timestamp("us")),
        ("b", pa.bool_()), ("bl", pa.binary()), ("x", pa.string()), ("num", pa.float64()),
    ])
    assert len(batches) > 3 and all(0 < b.num_rows <= 3 for b in batches)
    by_id = {row["id"]: row for row in result.to_pylist()}
    assert sorted(by_id) == list(range(12))
    assert by_id[0] == {"id": 0, "r": None, "s": None, "n": None, "d": None, "dt": None,
                        "b": None, "bl": None, "x": "x", "num": None}
    assert by_id[5]["n"] == Decimal("12.35")  # a double rounded to the declared scale
    assert by_id[4]["n"] == Decimal("4.00")
    assert by_id[11] == {
        "id": 11, "r": 16.5, "s": "s11", "n": Decimal("11.00"), "d": date(2024, 1, 2),
        "dt": datetime(2024, 1, 2, 10, 0, 0, 500000), "b": True, "bl": b"\x00\x01",
        "x": "11", "num": 3.0,
    }
    assert by_id[6]["dt"] == datetime(2024, 1, 2, 10, 0)


def test_many_rows_in_bounded_batches(context: ConnectorContext, make_db: MakeDb) -> None:
    auth = make_db("CREATE TABLE t (id INTEGER, at INTEGER)",
                   [(i, T0 + i) for i in range(20_000)])
    read_ = open_source(context, auth, SOURCE, ReadRequest(window=Window(T0, T0 + 15_000),
                                                           delta_column="at", batch_rows=4_000))
    result, batches = read_all(read_)
    assert result.num_rows == 15_000
    assert len(batches) > 1 and all(0 < b.num_rows <= 4_000 for b in batches)
    assert read_.progress.input_records == 15_000


def test_value_of_another_type_fails_naming_the_column(
    context: ConnectorContext, make_db: MakeDb
) -> None:
    auth = make_db("CREATE TABLE t (id INTEGER, qty INTEGER)", [(1, 1), (2, "lots")])
    with pytest.raises(SourceReadError) as caught:
        read(context, auth, ReadRequest(window=None))
    assert caught.value.transient is False
    assert caught.value.code == "CONNECTOR-2001-500"
    assert 'Column "qty"' in caught.value.message


def test_unparseable_datetime_text_fails(context: ConnectorContext, make_db: MakeDb) -> None:
    auth = make_db("CREATE TABLE t (id INTEGER, at DATETIME)", [(1, "yesterday")])
    with pytest.raises(SourceReadError) as caught:
        read(context, auth, ReadRequest(window=None))
    assert caught.value.transient is False
    assert 'Column "at"' in caught.value.message


def test_missing_or_unsupported_delta_column(
    context: ConnectorContext, events: dict[str, Any], make_db: MakeDb
) -> None:
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(context, events, SOURCE, "updated")
    assert caught.value.code == 1000
    assert caught.value.message == (
        'column "updated" does not exist in table "t"; columns are id, epoch, at, at_ms, day'
    )
    check_delta_column(context, events, SOURCE, "at")
    check_delta_column(context, events, SOURCE, "day")
    check_delta_column(context, events, SOURCE, "AT")  # SQLite names ignore case too


def test_unsupported_delta_type(context: ConnectorContext, make_db: MakeDb) -> None:
    auth = make_db("CREATE TABLE t (id INTEGER, label TEXT, score REAL)", [])
    for column, declared in (("label", "TEXT"), ("score", "REAL")):
        with pytest.raises(BadRequestError) as caught:
            check_delta_column(context, auth, SOURCE, column)
        assert caught.value.code == 1000
        assert f'column "{column}" of table "t" has type {declared}' in caught.value.message


def test_missing_table(context: ConnectorContext, events: dict[str, Any]) -> None:
    other = {"data": {}, "params": {"tableName": "nope"}}
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(context, events, other, "at")
    assert caught.value.code == 1000
    with pytest.raises(SourceReadError) as read_failure:
        open_source(context, events, other, ReadRequest(window=None))
    assert read_failure.value.transient is False


def test_missing_file_is_terminal_and_not_created(
    context: ConnectorContext, allowed_root: Path
) -> None:
    auth = {"path": str(allowed_root / "gone.db")}
    with pytest.raises(SourceReadError) as caught:
        open_source(context, auth, SOURCE, ReadRequest(window=None))
    assert caught.value.transient is False
    assert not (allowed_root / "gone.db").exists()


def test_file_outside_the_allowed_roots(context: ConnectorContext, tmp_path: Path) -> None:
    outside = tmp_path / "outside.db"
    sqlite3.connect(outside).close()
    with pytest.raises(SourceReadError) as caught:
        check_delta_column(context, {"path": str(outside)}, SOURCE, "at")
    assert caught.value.transient is False


def test_reading_leaves_the_file_untouched(
    context: ConnectorContext, events: dict[str, Any]
) -> None:
    path = Path(events["path"])
    before = (path.stat().st_mtime_ns, path.read_bytes())
    assert ids(context, events, ReadRequest(window=None)) == [1, 2, 3, 4, 5, 6]
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["source.db"]


def test_spec_sets_the_reader() -> None:
    connector = find_connector("40a2e097-51aa-4ded-91a4-482c06367e24")
    assert isinstance(connector, FunctionConnector)
    assert connector.opener is open_source
    assert connector.delta_checker is check_delta_column


def test_limit_is_pushed_into_the_query(
    context: ConnectorContext, events: dict[str, Any]
) -> None:
    # The reader itself never truncates: exactly `limit` rows means the query said LIMIT (and
    # the sentinel row, outside the limited subquery, is still dropped).
    assert len(ids(context, events, ReadRequest(window=None, limit=2))) == 2
    windowed = ReadRequest(window=Window(T0, T0 + DAY), delta_column="epoch", limit=2)
    assert set(ids(context, events, windowed)) < {2, 3, 4}
    assert len(ids(context, events, windowed)) == 2
    empty, _ = read(context, events, ReadRequest(window=None, limit=0))
    assert empty.num_rows == 0 and empty.schema.names == ["id", "epoch", "at", "at_ms", "day"]
