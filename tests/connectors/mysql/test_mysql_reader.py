"""The MySQL / MariaDB reader against the real server: windows, types, batches and errors, on
both read paths (connectorx's Arrow stream, and the pymysql cursor of encrypted sessions)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import SourceReadError
from sluice.connectors.mysql.reader import (
    check_delta_column,
    open_source,
    open_source_with_cursor,
)
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.connectors.registry import find_connector
from sluice.domain.errors import BadRequestError
from sluice.domain.windows import Window
from support.connector_reads import closed_port, read_all
from support.mariadb import (
    FAKE_PASSWORD,
    MY_DATABASE,
    MariaTables,
    my_auth,
    my_execute,
    queries_left_on,
    quoted,
)

T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
DAY = 86_400
Opener = Callable[..., SourceRead]


@pytest.fixture
def tables() -> Iterator[MariaTables]:
    made = MariaTables()
    yield made
    made.drop_all()


@pytest.fixture(params=["arrow", "cursor"])
def opener(request: pytest.FixtureRequest) -> Opener:
    """Each read path in turn: connectorx (unencrypted sessions) and the pymysql cursor."""
    return open_source if request.param == "arrow" else open_source_with_cursor


def source(table: str) -> dict[str, Any]:
    return {"data": {}, "params": {"tableName": table}}


def window(start: int, end: int, column: str, timezone: str = "UTC") -> ReadRequest:
    return ReadRequest(window=Window(start, end), delta_column=column, timezone=timezone)


def read_table(context: ConnectorContext, table: str, request: ReadRequest,
               opener: Opener = open_source, **auth: Any) -> pa.Table:
    result, _ = read_all(opener(context, my_auth(**auth), source(table), request))
    return result


def read_ids(context: ConnectorContext, table: str, request: ReadRequest,
             opener: Opener = open_source) -> list[int]:
    return sorted(read_table(context, table, request, opener).column("id").to_pylist())


@pytest.fixture
def events(tables: MariaTables) -> str:
    """Rows 1..5 at T0-1, T0, T0+1h, T0+1d-1, T0+1d in every delta type; row 6 all NULL."""
    table = tables.table(
        "id int, at_ts timestamp(6) NULL, at datetime(6), day date, epoch bigint, epoch4 int,"
        " epoch_u int unsigned")
    offsets = {1: -1, 2: 0, 3: 3600, 4: DAY - 1, 5: DAY}
    rows = []
    for row_id, offset in offsets.items():
        instant = datetime.fromtimestamp(T0 + offset, UTC).replace(tzinfo=None)
        rows.append((row_id, instant, instant, instant.date(), T0 + offset, T0 + offset,
                     T0 + offset))
    my_execute(f"INSERT INTO {quoted(table)} VALUES (%s, %s, %s, %s, %s, %s, %s)", rows,
               many=True)
    my_execute(f"INSERT INTO {quoted(table)} (id) VALUES (6)")
    return table


@pytest.mark.parametrize("column", ["at_ts", "at", "epoch", "epoch4", "epoch_u"])
def test_window_includes_its_start_and_excludes_its_end(
    context: ConnectorContext, events: str, column: str, opener: Opener
) -> None:
    assert read_ids(context, events, window(T0, T0 + DAY, column), opener) == [2, 3, 4]


def test_a_read_counts_the_rows_of_its_window(
    context: ConnectorContext, events: str, opener: Opener
) -> None:
    """The source side of a run's reconciliation, on both read paths."""
    read = opener(context, my_auth(), source(events), window(T0, T0 + DAY, "at"))
    rows, _ = read_all(read)
    assert rows.num_rows == 3 and read.progress.source_count == 3


def test_date_window_by_local_midnight(context: ConnectorContext, events: str,
                                       opener: Opener) -> None:
    # Days 2024-02-29 (row 1), 2024-03-01 (rows 2-4) and 2024-03-02 (row 5).
    assert read_ids(context, events, window(T0, T0 + DAY, "day"), opener) == [2, 3, 4]
    assert read_ids(context, events, window(T0, T0 + 1, "day"), opener) == [2, 3, 4]
    assert read_ids(context, events, window(T0 + 1, T0 + DAY, "day"), opener) == []


@pytest.mark.parametrize("column", ["at_ts", "at", "day", "epoch", "epoch_u"])
def test_consecutive_windows_union_is_the_table_exactly(
    context: ConnectorContext, events: str, column: str
) -> None:
    cuts = [T0 - 2 * DAY, T0 - 1, T0, T0 + 1, T0 + 3600, T0 + DAY - 1, T0 + DAY, T0 + 9 * DAY]
    seen: list[int] = []
    for start, end in itertools.pairwise(cuts):
        seen += read_ids(context, events, window(start, end, column))
    assert sorted(seen) == [1, 2, 3, 4, 5]  # each once; the NULL row in no window


def test_no_window_reads_everything(context: ConnectorContext, events: str,
                                    opener: Opener) -> None:
    assert read_ids(context, events, ReadRequest(window=None), opener) == [1, 2, 3, 4, 5, 6]


def test_a_window_beyond_the_years_datetime_holds_is_open_on_that_side(
    context: ConnectorContext, events: str
) -> None:
    far = 2**40  # year ~36812: the upper side is unbounded
    assert read_ids(context, events, window(T0, far, "at")) == [2, 3, 4, 5]
    assert read_ids(context, events, window(-(2**40), T0, "at_ts")) == [1]


def test_datetime_is_read_in_the_flow_timezone(context: ConnectorContext, tables: MariaTables,
                                               opener: Opener) -> None:
    table = tables.table("id int, local_at datetime, local_day date")
    my_execute(f"INSERT INTO {quoted(table)} VALUES (1, '2024-07-01 02:00:00', '2024-07-02'),"
               " (2, '2024-07-01 01:59:59', '2024-07-01')")
    utc_midnight = int(datetime(2024, 7, 1, tzinfo=UTC).timestamp())
    # 02:00 in Paris (summer, UTC+2) is 00:00 UTC.
    paris = window(utc_midnight, utc_midnight + 3600, "local_at", "Europe/Paris")
    assert read_ids(context, table, paris, opener) == [1]
    assert read_ids(context, table, window(utc_midnight, utc_midnight + 3600, "local_at"),
                    opener) == []
    # 2024-07-02 starts in Paris at 2024-07-01T22:00Z.
    paris_midnight = utc_midnight + 22 * 3600
    assert read_ids(context, table, window(paris_midnight, paris_midnight + 1, "local_day",
                                           "Europe/Paris"), opener) == [1]
    assert read_ids(context, table, window(paris_midnight, paris_midnight + 1, "local_day"),
                    opener) == []


def test_timestamp_is_an_instant_whatever_the_zones(context: ConnectorContext,
                                                    tables: MariaTables, opener: Opener) -> None:
    table = tables.table("id int, at timestamp NULL")
    # Written in a +05:00 session: stored as 05:00 UTC.
    my_execute(f"INSERT INTO {quoted(table)} VALUES (1, '2024-01-01 10:00:00')",
               time_zone="+05:00")
    five_utc = int(datetime(2024, 1, 1, 5, tzinfo=UTC).timestamp())
    # The flow's timezone does not apply to TIMESTAMP: it is already an instant.
    assert read_ids(context, table, window(five_utc, five_utc + 1, "at", "Asia/Tokyo"),
                    opener) == [1]
    result = read_table(context, table, ReadRequest(window=None), opener)
    assert result.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert result.column("at").to_pylist() == [datetime(2024, 1, 1, 5, tzinfo=UTC)]


TYPED_COLUMNS = (
    "id bigint, amount decimal(12, 2), ratio decimal(38, 10), wide decimal(30, 12),"
    " huge decimal(65, 30), at datetime(6), stamped timestamp(3) NULL, day date,"
    " flag tinyint(1), bit_flag bit(1), small tinyint, unsigned_big bigint unsigned,"
    " unsigned_int int unsigned, real_value float, double_value double, name varchar(20),"
    " body text, kind enum('a', 'b'), doc json, payload blob, duration time, year_value year"
)
TYPED_SCHEMA = pa.schema([
    ("id", pa.int64()), ("amount", pa.decimal128(12, 2)), ("ratio", pa.decimal128(38, 10)),
    ("wide", pa.decimal128(30, 12)), ("huge", pa.string()), ("at", pa.timestamp("us")),
    ("stamped", pa.timestamp("us", tz="UTC")), ("day", pa.date32()), ("flag", pa.bool_()),
    ("bit_flag", pa.bool_()), ("small", pa.int8()), ("unsigned_big", pa.decimal128(20, 0)),
    ("unsigned_int", pa.int64()), ("real_value", pa.float32()), ("double_value", pa.float64()),
    ("name", pa.string()), ("body", pa.string()), ("kind", pa.string()), ("doc", pa.string()),
    ("payload", pa.binary()), ("duration", pa.string()), ("year_value", pa.int16()),
])


def test_types_are_preserved(context: ConnectorContext, tables: MariaTables,
                             opener: Opener) -> None:
    table = tables.table(TYPED_COLUMNS)
    my_execute(
        f"INSERT INTO {quoted(table)} VALUES (9007199254740993, 1234.56, 12345678.0123456789,"
        " 123456789012345678.123456789012, 12345678901234567890123456789012345.123456789012345678"
        "901234567890, '2024-01-02 03:04:05.678901', '2024-01-02 03:04:05.5', '2024-01-02', 1,"
        " b'1', -5, 18446744073709551615, 4294967295, 1.5, 2.25, 'héllo', 'long text', 'b',"
        " '{\"a\": 1}', x'00ff', '-800:00:01', 2024)")
    my_execute(f"INSERT INTO {quoted(table)} (id) VALUES (2)")
    result = read_table(context, table, ReadRequest(window=None), opener).sort_by("id")
    assert result.schema == TYPED_SCHEMA
    assert result.to_pylist()[1] == {
        "id": 9007199254740993, "amount": Decimal("1234.56"),
        "ratio": Decimal("12345678.0123456789"), "wide": Decimal("123456789012345678.123456789012"),
        "huge": "12345678901234567890123456789012345.123456789012345678901234567890",
        "at": datetime(2024, 1, 2, 3, 4, 5, 678901),
        "stamped": datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC), "day": date(2024, 1, 2),
        "flag": True, "bit_flag": True, "small": -5, "unsigned_big": Decimal(2**64 - 1),
        "unsigned_int": 2**32 - 1, "real_value": 1.5, "double_value": 2.25, "name": "héllo",
        "body": "long text", "kind": "b", "doc": '{"a": 1}', "payload": b"\x00\xff",
        "duration": "-800:00:01", "year_value": 2024}
    assert set(result.to_pylist()[0].values()) == {2, None}


def test_zero_dates_read_as_null(context: ConnectorContext, tables: MariaTables,
                                 opener: Opener) -> None:
    table = tables.table("id int, at datetime, day date")
    # MariaDB's default sql_mode lets zero dates and zero months or days in.
    my_execute(f"INSERT INTO {quoted(table)} VALUES (1, '2024-01-01 00:00:00', '2024-01-01'),"
               " (2, '0000-00-00 00:00:00', '2024-00-00')")
    result = read_table(context, table, ReadRequest(window=None), opener).sort_by("id")
    assert result.column("at").to_pylist() == [datetime(2024, 1, 1), None]
    assert result.column("day").to_pylist() == [date(2024, 1, 1), None]


def test_large_table_streams_in_bounded_batches(context: ConnectorContext, tables: MariaTables,
                                                opener: Opener) -> None:
    table = tables.table("id int primary key, label varchar(40)")
    my_execute(f"INSERT INTO {quoted(table)} SELECT seq, CONCAT('row ', seq) FROM seq_1_to_10000")
    read = opener(context, my_auth(), source(table), ReadRequest(window=None, batch_rows=1000))
    result, batches = read_all(read)
    assert result.num_rows == 10_000
    assert len(batches) >= 10 and all(0 < b.num_rows <= 1000 for b in batches)
    assert sorted(result.column("id").to_pylist()) == list(range(1, 10_001))
    assert read.progress.input_records == 10_000 and read.progress.input_bytes > 0


def test_limit_is_pushed_down(context: ConnectorContext, events: str, opener: Opener) -> None:
    limited = read_table(context, events, ReadRequest(window=None, limit=3), opener)
    assert limited.num_rows == 3
    windowed = read_table(context, events, ReadRequest(
        window=Window(T0, T0 + DAY), delta_column="epoch", limit=2), opener)
    assert windowed.num_rows == 2 and set(windowed.column("id").to_pylist()) <= {2, 3, 4}


def test_closing_a_read_early_ends_its_query(context: ConnectorContext, tables: MariaTables,
                                             opener: Opener) -> None:
    table = tables.table("id int primary key")
    my_execute(f"INSERT INTO {quoted(table)} SELECT seq FROM seq_1_to_50000")
    read = opener(context, my_auth(), source(table), ReadRequest(window=None, batch_rows=100))
    batches = read.batches()
    assert next(batches).num_rows == 100
    batches.close()  # what a preview does after its first rows
    # Each path ends its query: connectorx drops its connection, the cursor path its session.
    assert queries_left_on(table) == 0


def test_identifiers_with_quotes_and_backticks_are_read(
    context: ConnectorContext, tables: MariaTables, opener: Opener
) -> None:
    table = tables.table("id int, `we``ird \"col'` datetime", name="my`tab'le\"x")
    my_execute(f"INSERT INTO {quoted(table)} VALUES (1, '2024-03-01 00:00:00'),"
               " (2, '2024-03-02 00:00:00')")
    result = read_table(context, table, window(T0, T0 + DAY, "we`ird \"col'"), opener)
    assert result.column_names == ["id", "we`ird \"col'"]
    assert result.column("id").to_pylist() == [1]


def test_a_table_of_another_database_is_read(context: ConnectorContext,
                                             tables: MariaTables) -> None:
    database = tables.database()
    table = tables.table("id int", database=database)
    my_execute(f"INSERT INTO {quoted(database)}.{quoted(table)} VALUES (7)")
    assert read_ids(context, f"{database}.{table}", ReadRequest(window=None)) == [7]


def test_delta_column_is_never_pasted_into_sql(context: ConnectorContext, events: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(context, my_auth(), source(events), "epoch` OR 1=1 -- ")
    assert caught.value.code == 1000
    assert "does not exist" in caught.value.message


def test_missing_delta_column_names_the_columns(context: ConnectorContext, events: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(context, my_auth(), source(events), "updated")
    assert caught.value.code == 1000
    assert 'column "updated" does not exist' in caught.value.message
    assert "id, at_ts, at, day, epoch" in caught.value.message
    with pytest.raises(SourceReadError) as read_failure:
        read_table(context, events, window(T0, T0 + DAY, "updated"))
    assert read_failure.value.transient is False


def test_delta_column_matches_exactly_else_ignoring_case(context: ConnectorContext,
                                                          events: str) -> None:
    check_delta_column(context, my_auth(), source(events), "EPOCH")
    assert read_ids(context, events, window(T0, T0 + DAY, "EPOCH")) == [2, 3, 4]


@pytest.mark.parametrize("column_type", ["varchar(20)", "tinyint(1)", "time", "double"])
def test_delta_column_of_an_unwindowable_type(context: ConnectorContext, tables: MariaTables,
                                              column_type: str) -> None:
    table = tables.table(f"id int, value {column_type}")
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(context, my_auth(), source(table), "value")
    assert caught.value.code == 1000
    assert "cannot select a window" in caught.value.message
    assert column_type.upper() in caught.value.message


def test_missing_table(context: ConnectorContext) -> None:
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(context, my_auth(), source("sluice_no_such_table"), "at")
    assert caught.value.code == 1000
    with pytest.raises(SourceReadError) as read_failure:
        read_table(context, "sluice_no_such_table", ReadRequest(window=None))
    assert read_failure.value.transient is False
    # A missing source has its own code (issue 13), distinct from an unreachable one.
    assert read_failure.value.code == "CONNECTOR-1002-500"
    assert "does not exist" in read_failure.value.message


def test_window_without_delta_column_is_refused(context: ConnectorContext, events: str) -> None:
    with pytest.raises(SourceReadError) as caught:
        read_table(context, events, ReadRequest(window=Window(T0, T0 + DAY)))
    assert caught.value.transient is False and "needs a delta column" in caught.value.message


@pytest.mark.parametrize("style", ["basic", "connection string"])
def test_wrong_password_is_terminal_and_hides_the_password(context: ConnectorContext,
                                                           events: str, style: str) -> None:
    auth = my_auth(password=FAKE_PASSWORD)
    if style == "connection string":
        auth = {"connectionString": "mysql://root:Fake-Pa55%3Aw%40rd%2FMySQL%3F%23"
                                    f"@127.0.0.1:3306/{MY_DATABASE}"}
    with pytest.raises(SourceReadError) as caught:
        open_source(context, auth, source(events), ReadRequest(window=None))
    error = caught.value
    assert error.transient is False and error.code == "CONNECTOR-1001-500"
    assert "Access denied" in error.message and "Check the username and password" in error.message
    chained: BaseException | None = error
    while chained is not None:  # nothing carried along holds the password either
        assert "Fake-Pa55" not in str(chained) and "Fake-Pa55" not in repr(chained.args)
        chained = chained.__cause__ or chained.__context__


def test_unreachable_server_is_transient(context: ConnectorContext, events: str) -> None:
    with pytest.raises(SourceReadError) as caught:
        open_source(context, my_auth(port=closed_port(), password=FAKE_PASSWORD),
                    source(events), ReadRequest(window=None))
    error = caught.value
    assert error.transient is True and error.code == "CONNECTOR-1001-500"
    assert "Check the host and port" in error.message
    assert "Fake-Pa55" not in error.message


def test_metadata_address_is_refused_without_connecting(context: ConnectorContext) -> None:
    with pytest.raises(SourceReadError) as caught:
        open_source(context, my_auth(host="169.254.169.254"), source("t"),
                    ReadRequest(window=None))
    assert caught.value.transient is False and "metadata" in caught.value.message


def test_spec_sets_the_reader() -> None:
    connector = find_connector("5c3f6a0e-9b1d-4e8a-a7c2-3d4f1e2b6a90")
    assert isinstance(connector, FunctionConnector)
    assert connector.spec.name == "MySQL"
    assert connector.opener is open_source
    assert connector.delta_checker is check_delta_column
