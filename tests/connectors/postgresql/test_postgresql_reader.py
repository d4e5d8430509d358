"""The PostgreSQL reader against the real server: windows, types, batches and errors."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import SourceReadError
from sluice.connectors.postgresql.reader import check_delta_column, open_source
from sluice.connectors.reading import ReadRequest
from sluice.connectors.registry import find_connector
from sluice.domain.errors import BadRequestError
from sluice.domain.windows import Window
from support.connector_reads import (
    FAKE_PASSWORD,
    PG_DATABASE,
    PG_HOST,
    PG_PORT,
    PG_USER,
    closed_port,
    pg_auth,
    pg_dsn,
    pg_execute,
    read_all,
)

MakeTable = Callable[..., str]
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
DAY = 86_400
# The reader checks its host against the guard, which needs the service's context.
CONTEXT = ConnectorContext(
    allowed_file_roots=(), lake_dir=Path("unused-lake"), metadata_database_url="sqlite:///x.db"
)


def source(table: str) -> dict[str, Any]:
    return {"data": {}, "params": {"tableName": table}}


def read_ids(table: str, request: ReadRequest, auth: dict[str, Any] | None = None) -> list[int]:
    result, _ = read_all(open_source(CONTEXT, auth or pg_auth(), source(table), request))
    return sorted(result.column("id").to_pylist())


def window(start: int, end: int, column: str, timezone: str = "UTC") -> ReadRequest:
    return ReadRequest(window=Window(start, end), delta_column=column, timezone=timezone)


@pytest.fixture
def events(pg_table: MakeTable) -> str:
    """Rows 1..5 at T0-1, T0, T0+1h, T0+1d-1, T0+1d in every delta type; row 6 all NULL."""
    table = pg_table(
        "id int, at_tz timestamptz, at timestamp, day date, epoch bigint, epoch4 int,"
        " epoch2 smallint"
    )
    offsets = {1: -1, 2: 0, 3: 3600, 4: DAY - 1, 5: DAY}
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        for row_id, offset in offsets.items():
            instant = datetime.fromtimestamp(T0 + offset, UTC)
            connection.execute(
                f'INSERT INTO "{table}" VALUES (%s, %s, %s, %s, %s, %s, %s)',
                (row_id, instant, instant.replace(tzinfo=None), instant.date(),
                 T0 + offset, T0 + offset, offset // 3600 if offset >= 0 else -1),
            )
        connection.execute(f'INSERT INTO "{table}" (id) VALUES (6)')
    return table


@pytest.mark.parametrize("column", ["at_tz", "at", "epoch", "epoch4"])
def test_window_includes_its_start_and_excludes_its_end(events: str, column: str) -> None:
    assert read_ids(events, window(T0, T0 + DAY, column)) == [2, 3, 4]


def test_smallint_epoch_column(events: str) -> None:
    assert read_ids(events, window(0, 24, "epoch2")) == [2, 3, 4]


def test_date_window_by_local_midnight(events: str) -> None:
    # Days 2024-02-29 (row 1), 2024-03-01 (rows 2-4) and 2024-03-02 (row 5).
    assert read_ids(events, window(T0, T0 + DAY, "day")) == [2, 3, 4]
    assert read_ids(events, window(T0, T0 + 1, "day")) == [2, 3, 4]
    assert read_ids(events, window(T0 + 1, T0 + DAY, "day")) == []


@pytest.mark.parametrize("column", ["at_tz", "at", "day", "epoch", "epoch4"])
def test_consecutive_windows_union_is_the_table_exactly(events: str, column: str) -> None:
    cuts = [T0 - 2 * DAY, T0 - 1, T0, T0 + 1, T0 + 3600, T0 + DAY - 1, T0 + DAY, T0 + 9 * DAY]
    seen: list[int] = []
    for start, end in itertools.pairwise(cuts):
        seen += read_ids(events, window(start, end, column))
    assert sorted(seen) == [1, 2, 3, 4, 5]  # each once; the NULL row in no window


def test_no_window_reads_everything(events: str) -> None:
    assert read_ids(events, ReadRequest(window=None)) == [1, 2, 3, 4, 5, 6]


def test_zoneless_timestamp_is_read_in_the_flow_timezone(pg_table: MakeTable) -> None:
    table = pg_table("id int, local_at timestamp, local_day date")
    pg_execute(
        f"INSERT INTO \"{table}\" VALUES (1, '2024-07-01 02:00:00', '2024-07-02'),"
        " (2, '2024-07-01 01:59:59', '2024-07-01')"
    )
    utc_midnight = int(datetime(2024, 7, 1, tzinfo=UTC).timestamp())
    # 02:00 in Paris (summer, UTC+2) is 00:00 UTC.
    paris = window(utc_midnight, utc_midnight + 3600, "local_at", "Europe/Paris")
    assert read_ids(table, paris) == [1]
    assert read_ids(table, window(utc_midnight, utc_midnight + 3600, "local_at")) == []
    # 2024-07-02 starts in Paris at 2024-07-01T22:00Z.
    paris_midnight = utc_midnight + 22 * 3600
    assert read_ids(table, window(paris_midnight, paris_midnight + 1, "local_day",
                                  "Europe/Paris")) == [1]
    assert read_ids(table, window(paris_midnight, paris_midnight + 1, "local_day")) == []


def test_types_are_preserved(pg_table: MakeTable) -> None:
    table = pg_table(
        "id int8, small int2, flag bool, price numeric(12,3), big numeric(38,10),"
        " loose numeric, ratio float8, ratio4 float4, name text, code varchar(5), fixed char(3),"
        " at_tz timestamptz, at timestamp, day date, raw bytea, ident uuid, doc jsonb,"
        " tags text[], wide numeric(50,2)"
    )
    pg_execute(
        f'INSERT INTO "{table}" VALUES (9007199254740993, 7, true, 123456789.125,'
        " 1234567890123456789012345678.0123456789, 2.5, 0.1, 0.5, 'héllo', 'ab', 'x',"
        " '2024-03-01 12:00:00.123456+02', '2024-03-01 12:00:00.654321', '2024-03-01',"
        " '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, 2]}', '{a,b}', 1.5),"
        " (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        " NULL, NULL, NULL, NULL, NULL)"
    )
    result, _ = read_all(open_source(CONTEXT, pg_auth(), source(table), ReadRequest(window=None)))
    assert result.schema == pa.schema([
        ("id", pa.int64()), ("small", pa.int16()), ("flag", pa.bool_()),
        ("price", pa.decimal128(12, 3)), ("big", pa.decimal128(38, 10)),
        ("loose", pa.decimal128(38, 18)), ("ratio", pa.float64()), ("ratio4", pa.float32()),
        ("name", pa.string()), ("code", pa.string()), ("fixed", pa.string()),
        ("at_tz", pa.timestamp("us", tz="UTC")), ("at", pa.timestamp("us")),
        ("day", pa.date32()), ("raw", pa.binary()), ("ident", pa.string()),
        ("doc", pa.string()), ("tags", pa.string()), ("wide", pa.string()),
    ])
    row, empty = result.to_pylist()
    assert row == {
        "id": 9007199254740993, "small": 7, "flag": True, "price": Decimal("123456789.125"),
        "big": Decimal("1234567890123456789012345678.0123456789"),
        "loose": Decimal("2.500000000000000000"), "ratio": 0.1, "ratio4": 0.5,
        "name": "héllo", "code": "ab", "fixed": "x  ",
        "at_tz": datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC),
        "at": datetime(2024, 3, 1, 12, 0, 0, 654321), "day": date(2024, 3, 1),
        "raw": b"\x00\xff", "ident": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "doc": '{"k": [1, 2]}', "tags": "{a,b}", "wide": "1.50",
    }
    assert set(empty.values()) == {None}


def test_numerics_land_exactly_at_every_width(pg_table: MakeTable) -> None:
    # Numerics cross the wire as text: every width lands as the very same decimal, at the
    # limits of its precision and sign, through a domain too.
    pg_execute("DO $$ BEGIN CREATE DOMAIN money_amount AS numeric(12, 2);"
               " EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    table = pg_table(
        "id int, whole numeric(18,0), cents numeric(18,2), tiny numeric(1,1), fine numeric(18,18),"
        " wider numeric(19,2), amount money_amount"
    )
    pg_execute(
        f'INSERT INTO "{table}" VALUES'
        " (1, 999999999999999999, 9999999999999999.99, 0.9, 0.999999999999999999,"
        "  99999999999999999.99, 1234567890.12),"
        " (2, -999999999999999999, -9999999999999999.99, -0.9, -0.000000000000000001,"
        "  -99999999999999999.99, -0.01),"
        " (3, 0, 0.00, 0.0, 0, 0, 0), (4, NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    result, _ = read_all(open_source(CONTEXT, pg_auth(), source(table), ReadRequest(window=None)))
    assert result.schema.field("whole").type == pa.decimal128(18, 0)
    assert result.schema.field("fine").type == pa.decimal128(18, 18)
    assert result.schema.field("wider").type == pa.decimal128(19, 2)
    assert result.schema.field("amount").type == pa.decimal128(12, 2)
    rows = sorted(result.to_pylist(), key=lambda row: row["id"])
    assert rows[0] == {
        "id": 1, "whole": Decimal("999999999999999999"), "cents": Decimal("9999999999999999.99"),
        "tiny": Decimal("0.9"), "fine": Decimal("0.999999999999999999"),
        "wider": Decimal("99999999999999999.99"), "amount": Decimal("1234567890.12"),
    }
    assert rows[1] == {
        "id": 2, "whole": Decimal("-999999999999999999"),
        "cents": Decimal("-9999999999999999.99"), "tiny": Decimal("-0.9"),
        "fine": Decimal("-0.000000000000000001"), "wider": Decimal("-99999999999999999.99"),
        "amount": Decimal("-0.01"),
    }
    assert rows[2]["cents"] == Decimal("0.00") and rows[2]["whole"] == Decimal(0)
    assert set(rows[3].values()) == {4, None}


def test_large_table_streams_in_bounded_batches(pg_table: MakeTable) -> None:
    table = pg_table("id int, at timestamptz, note text")
    pg_execute(
        f"INSERT INTO \"{table}\" SELECT g, to_timestamp({T0} + g), repeat('x', 20)"
        " FROM generate_series(1, 200000) g"
    )
    request = ReadRequest(window=None, batch_rows=30_000)
    read = open_source(CONTEXT, pg_auth(), source(table), request)
    result, batches = read_all(read)
    assert result.num_rows == 200_000
    assert len(batches) > 1
    assert all(0 < b.num_rows <= 30_000 for b in batches)
    assert read.progress.input_records == 200_000
    assert read.progress.input_bytes > 0
    # A window streams too (its bounds are not parameters of the COPY query).
    windowed = ReadRequest(window=Window(T0 + 1, T0 + 150_001), delta_column="at",
                           batch_rows=40_000)
    result, batches = read_all(open_source(CONTEXT, pg_auth(), source(table), windowed))
    assert result.num_rows == 150_000
    assert len(batches) > 1 and all(b.num_rows <= 40_000 for b in batches)
    assert pa.compute.min(result.column("id")).as_py() == 1


def test_identifiers_are_quoted_from_the_reflection(pg_table: MakeTable) -> None:
    name = f"Rd Mixed {uuid.uuid4().hex[:8]}"
    table = pg_table('id int, "Event Time" timestamptz, "we""ird" text', name=name)
    pg_execute(f"INSERT INTO \"{table}\" VALUES (1, to_timestamp({T0}), 'q')")
    request = window(T0, T0 + 1, "Event Time")
    check_delta_column(CONTEXT, pg_auth(), source(table), "Event Time")
    result, _ = read_all(open_source(CONTEXT, pg_auth(), source(table), request))
    assert result.column_names == ["id", "Event Time", 'we"ird']
    assert result.num_rows == 1
    # `schema.table` names the schema explicitly.
    assert read_ids(f"public.{table}", request) == [1]


def test_delta_column_is_never_pasted_into_sql(events: str) -> None:
    hostile = 'epoch" >= 0; DROP TABLE "' + events
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(CONTEXT, pg_auth(), source(events), hostile)
    assert caught.value.code == 1000
    with pytest.raises(SourceReadError) as read_failure:
        open_source(CONTEXT, pg_auth(), source(events), window(0, 1, hostile))
    assert read_failure.value.transient is False
    assert read_ids(events, ReadRequest(window=None)) == [1, 2, 3, 4, 5, 6]


def test_missing_delta_column_names_the_columns(events: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(CONTEXT, pg_auth(), source(events), "updated")
    assert caught.value.code == 1000
    assert caught.value.status == 400
    assert caught.value.message == (
        f'column "updated" does not exist in table "{events}"; columns are id, at_tz, at,'
        " day, epoch, epoch4, epoch2"
    )


def test_delta_column_matches_exactly_else_ignoring_case(
    events: str, pg_table: MakeTable
) -> None:
    # `DOB` in a request finds an unquoted column stored as `dob`.
    check_delta_column(CONTEXT, pg_auth(), source(events), "EPOCH")
    ambiguous = pg_table('"At" timestamptz, "at" timestamptz')
    check_delta_column(CONTEXT, pg_auth(), source(ambiguous), "at")
    with pytest.raises(BadRequestError):
        check_delta_column(CONTEXT, pg_auth(), source(ambiguous), "AT")


def test_delta_column_of_an_unsupported_type(pg_table: MakeTable) -> None:
    table = pg_table("id int, label text, amount numeric(10,2)")
    for column, shown in (("label", "text"), ("amount", "numeric(10,2)")):
        with pytest.raises(BadRequestError) as caught:
            check_delta_column(CONTEXT, pg_auth(), source(table), column)
        assert caught.value.code == 1000
        assert f'column "{column}"' in caught.value.message
        assert f"has type {shown}" in caught.value.message


def test_missing_table() -> None:
    with pytest.raises(BadRequestError) as caught:
        check_delta_column(CONTEXT, pg_auth(), source("rd_no_such_table"), "at")
    assert caught.value.code == 1000
    assert "rd_no_such_table" in caught.value.message
    with pytest.raises(SourceReadError) as read_failure:
        open_source(CONTEXT, pg_auth(), source("rd_no_such_table"), ReadRequest(window=None))
    assert read_failure.value.transient is False


def test_table_dropped_between_check_and_read_is_terminal(pg_table: MakeTable) -> None:
    table = pg_table("id int, at timestamptz")
    check_delta_column(CONTEXT, pg_auth(), source(table), "at")
    pg_execute(f'DROP TABLE "{table}"')
    with pytest.raises(SourceReadError) as caught:
        open_source(CONTEXT, pg_auth(), source(table), window(T0, T0 + 1, "at"))
    assert caught.value.transient is False
    assert table in caught.value.message


def test_window_without_delta_column_is_refused(events: str) -> None:
    with pytest.raises(SourceReadError) as caught:
        open_source(CONTEXT, pg_auth(), source(events), ReadRequest(window=Window(0, 1)))
    assert caught.value.transient is False


def test_permission_denied_is_terminal(events: str) -> None:
    role = f"rd_role_{uuid.uuid4().hex[:10]}"
    pg_execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with pytest.raises(SourceReadError) as caught:
            open_source(CONTEXT, pg_auth(username=role), source(events), ReadRequest(window=None))
        assert caught.value.transient is False
        assert "permission denied" in caught.value.message
    finally:
        pg_execute(f'DROP ROLE IF EXISTS "{role}"')


def test_unknown_role_is_terminal(events: str) -> None:
    with pytest.raises(SourceReadError) as caught:
        check_delta_column(CONTEXT, pg_auth(username="rd_nobody"), source(events), "at")
    assert caught.value.transient is False
    assert FAKE_PASSWORD not in caught.value.message


@pytest.mark.parametrize("style", ["basic", "uri", "keywords"])
def test_unreachable_server_is_transient_and_hides_the_password(style: str) -> None:
    port = closed_port()
    auth = {
        "basic": pg_auth(port=port),
        "uri": {"connectionString": f"postgresql://{PG_USER}:Fake-Pa55%3Aw%40rd%2FReader"
                                    f"@{PG_HOST}:{port}/{PG_DATABASE}"},
        "keywords": {"connectionString": f"host={PG_HOST} port={port} dbname={PG_DATABASE}"
                                         f" user={PG_USER} password='{FAKE_PASSWORD}'"},
    }[style]
    for attempt in (
        lambda: check_delta_column(CONTEXT, auth, source("t"), "at"),
        lambda: open_source(CONTEXT, auth, source("t"), ReadRequest(window=None)),
    ):
        with pytest.raises(SourceReadError) as caught:
            attempt()
        error = caught.value
        assert error.transient is True
        assert error.code == "CONNECTOR-1001-500"
        assert "Connection refused" in error.message
        for text in (error.message, str(error), repr(error.args)):
            assert FAKE_PASSWORD not in text
            assert "Fake-Pa55%3Aw%40rd%2FReader" not in text
            assert "Fake-Pa55" not in text


def test_connection_lost_mid_read_is_transient(pg_table: MakeTable) -> None:
    table = pg_table("id int, note text")
    pg_execute(f"INSERT INTO \"{table}\" SELECT g, repeat('x', 500) FROM generate_series(1,"
               " 300000) g")
    app = f"rd_{uuid.uuid4().hex[:10]}"
    auth = {"connectionString": f"host={PG_HOST} port={PG_PORT} dbname={PG_DATABASE}"
                                f" user={PG_USER} application_name={app}"}
    read = open_source(CONTEXT, auth, source(table), ReadRequest(window=None, batch_rows=1000))
    batches = read.batches()
    next(batches)
    killer = threading.Thread(target=pg_execute, args=(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (app,),
    ))
    killer.start()
    killer.join()
    with pytest.raises(SourceReadError) as caught:
        for _ in batches:
            pass
    assert caught.value.transient is True
    read.close()


def test_spec_sets_the_reader() -> None:
    connector = find_connector("1bed8a75-0487-4216-85f5-94ddf2058992")
    assert isinstance(connector, FunctionConnector)
    assert connector.opener is open_source
    assert connector.delta_checker is check_delta_column


def test_limit_is_pushed_into_the_query(events: str) -> None:
    # The reader itself never truncates: exactly `limit` rows means the query said LIMIT.
    assert len(read_ids(events, ReadRequest(window=None, limit=2))) == 2
    windowed = ReadRequest(window=Window(T0, T0 + DAY), delta_column="at_tz", limit=2)
    assert set(read_ids(events, windowed)) < {2, 3, 4}
    assert len(read_ids(events, windowed)) == 2
    assert read_ids(events, ReadRequest(window=None, limit=0)) == []


def test_a_read_carries_the_expected_rows_of_its_window(events: str) -> None:
    with psycopg.connect(pg_dsn(), autocommit=True) as connection:
        connection.execute(f'ANALYZE "{events}"')
    whole = open_source(CONTEXT, pg_auth(), source(events), ReadRequest(window=None))
    windowed = open_source(CONTEXT, pg_auth(), source(events), window(T0, T0 + 3600, "epoch"))
    try:
        # The window's count (the reconciliation's, in the read's snapshot), made beside the
        # read: it arrives before a single batch is taken. 6 rows in all, 1 in the first hour.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and None in (
                whole.progress.expected_records, windowed.progress.expected_records):
            time.sleep(0.01)
        assert whole.progress.expected_records == 6
        assert windowed.progress.expected_records == 1
    finally:
        whole.close()
        windowed.close()
    assert read_ids(events, window(T0, T0 + 3600, "epoch")) == [2]
