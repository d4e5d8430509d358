"""Reading MySQL / MariaDB tables into bounded Arrow batches.

pymysql reflects the table from information_schema (bound parameters) and the read query is
built from the reflection only: identifiers backtick-quoted, window bounds as typed literals
generated from Python values. The rows then come through connectorx, which streams Arrow
batches straight from the wire (`arrow_stream`).

connectorx has no TLS for MySQL, so an encrypted session (sslMode REQUIRED or stricter, or
PREFERRED against a server that offers TLS) is read through the pymysql session itself with
an unbuffered cursor (`SSCursor`), in batches of `batch_rows` rows. Both paths run the same
query and are cast to the same reflected schema.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import connectorx
import pyarrow as pa
import pymysql

from sluice.connectors.batching import bounded
from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import (
    ConnectionTestFailed,
    SourceReadError,
    TerminalReadError,
    UnreadableDataError,
    read_error_type,
)
from sluice.connectors.mysql.catalog import (
    REFLECT_SQL,
    MysqlTable,
    bound_literal,
    parse_table_name,
    quote_identifier,
    table_from_rows,
)
from sluice.connectors.mysql.session import (
    CONNECT_TIMEOUT_SECONDS,
    UTC_SESSION_SQL,
    MysqlConnectFailed,
    MysqlSettings,
    connect,
    describe,
    error_number,
    forget_unbuffered_result,
    is_transient,
    settings_from_params,
    uses_tls,
)
from sluice.connectors.read_base import SelfClosingRead, stream_batches
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.connectors.tables.conform import conform
from sluice.connectors.tables.reflection import (
    DeltaTypes,
    delta_column_checker,
    existing_table,
    table_name_of,
)
from sluice.connectors.tables.split_windows import offer_split, parallel_windows
from sluice.connectors.tables.windowing import window_where

DELTA_TYPES = DeltaTypes(
    accepted="DATETIME, TIMESTAMP, DATE or integer (epoch seconds)",
    type_of=lambda c: str(c.column_type).upper(),
)


class _Session:
    """A pymysql connection and the secrets its errors must never show."""

    def __init__(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        try:
            self.settings = settings_from_params(auth)
            self.connection = connect(context, self.settings)
        except MysqlConnectFailed as error:
            raise error.read_error(str(error)) from None
        except ConnectionTestFailed as error:  # bad params, or a host the guard refuses
            raise TerminalReadError(str(error)) from None
        self.secrets: tuple[str, ...] = (
            *self.settings.secrets,
            str(auth.get("connectionString", "")),
        )

    def error(self, error: BaseException, what: str) -> SourceReadError:
        return read_error_type(is_transient(error))(f"{what}: {describe(error, self.secrets)}")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing after a failure must not hide it
            self.connection.close()


def reflect(session: _Session, table_name: str) -> MysqlTable | None:
    """The table as information_schema describes it, or None when it does not exist."""
    database, table = parse_table_name(table_name)
    try:
        with session.connection.cursor() as cursor:
            cursor.execute(REFLECT_SQL, (table, database))
            rows = cursor.fetchall()
    except pymysql.MySQLError as error:
        raise session.error(
            error, f'Could not read the definition of table "{table_name}"'
        ) from None
    return table_from_rows(rows, table)


check_delta_column = delta_column_checker(_Session, reflect, DELTA_TYPES)


def read_query(table: MysqlTable, table_name: str, request: ReadRequest) -> str:
    """The SELECT of the request's rows; every identifier and literal generated here."""
    columns = ", ".join(
        f"{c.select_expression} AS {quote_identifier(c.name)}" for c in table.columns
    )
    query = f"SELECT {columns} FROM {table.quoted_name}{_where_clause(table, table_name, request)}"
    if request.limit is not None:
        query += f" LIMIT {max(0, int(request.limit))}"
    return query


def _where_clause(table: MysqlTable, table_name: str, request: ReadRequest) -> str:
    selected = DELTA_TYPES.select(table_name, table, request)
    if selected is None:
        return ""
    column, kind, bounds = selected
    return window_where(
        quote_identifier(column.name),
        *(None if b is None else bound_literal(kind, b) for b in (bounds.lower, bounds.upper)),
    )


@parallel_windows
def open_source(
    context: ConnectorContext,
    auth: Mapping[str, Any],
    source: Mapping[str, Any],
    request: ReadRequest,
) -> SourceRead:
    """Start reading the rows of the table whose delta column lies in the request's window:
    through connectorx, or through the session's cursor when the session is encrypted."""
    return _open(context, auth, source, request, cursor_only=False)


@parallel_windows
def open_source_with_cursor(
    context: ConnectorContext,
    auth: Mapping[str, Any],
    source: Mapping[str, Any],
    request: ReadRequest,
) -> SourceRead:
    """`open_source` through the pymysql cursor, whatever the session's encryption."""
    return _open(context, auth, source, request, cursor_only=True)


def _open(
    context: ConnectorContext,
    auth: Mapping[str, Any],
    source: Mapping[str, Any],
    request: ReadRequest,
    *,
    cursor_only: bool,
) -> SourceRead:
    table_name = table_name_of(source)
    session = _Session(context, auth)
    read: MysqlCursorRead | MysqlArrowRead
    try:
        # InnoDB: the count and a cursor read share this snapshot (connectorx reads on its
        # own connections, so there the count is the same predicate just before the read).
        _execute(session, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        table = existing_table(table_name, reflect(session, table_name))
        query = read_query(table, table_name, request)
        source_count = None
        if request.limit is None:
            where = _where_clause(table, table_name, request)
            source_count = _count(session, f"SELECT COUNT(*) FROM {table.quoted_name}{where}")
            offer_split(request, source_count)
        if cursor_only or _encrypted(session):
            read = MysqlCursorRead(session, query, table, table_name, request.batch_rows)
            read.progress.source_count = source_count
            return read
    except BaseException:
        session.close()
        raise
    session.close()
    read = MysqlArrowRead(session.settings, session.secrets, query, table, table_name, request)
    read.progress.source_count = source_count
    return read


def _execute(session: _Session, sql: str) -> None:
    try:
        with session.connection.cursor() as cursor:
            cursor.execute(sql)
    except pymysql.MySQLError as error:
        raise session.error(error, "Could not start the read") from None


def _count(session: _Session, sql: str) -> int:
    """The window's rows, by the read's own predicate: one query per run, not per batch."""
    try:
        with session.connection.cursor() as cursor:
            cursor.execute(sql)
            row = cursor.fetchone()
    except pymysql.MySQLError as error:
        raise session.error(error, "Could not count the window's rows") from None
    return int(row[0]) if row else 0


def _encrypted(session: _Session) -> bool:
    try:
        return uses_tls(session.connection)
    except pymysql.MySQLError as error:
        raise session.error(error, "Could not read the session's encryption") from None


def connectorx_url(settings: MysqlSettings) -> str:
    """connectorx's URL for the settings: TCP only (never the server's Unix socket)."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return (
        f"mysql://{quote(settings.user, safe='')}:{quote(settings.password, safe='')}"
        f"@{host}:{settings.port}/{quote(settings.database, safe='')}"
        f"?prefer_socket=false&tcp_connect_timeout_ms={CONNECT_TIMEOUT_SECONDS * 1000}"
    )


def _is_panic(error: BaseException) -> bool:
    """connectorx reports a value it cannot decode as a Rust panic (a BaseException)."""
    return type(error).__name__ == "PanicException"


def _is_driver_failure(error: BaseException) -> bool:
    """An error of connectorx's read, not an interrupt or exit passing through it."""
    return isinstance(error, Exception) or _is_panic(error)


class _Reads(SelfClosingRead):
    """What both read paths share: the reflected schema, progress, bounded batches."""

    def __init__(self, table: MysqlTable, table_name: str, batch_rows: int) -> None:
        super().__init__(table.arrow_schema)
        self._table = table
        self._table_name = table_name
        self._batch_rows = batch_rows

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for batch in bounded(self._raw_batches(), self._batch_rows):
            conformed = conform(batch, self._schema, self._table_name)
            self._progress.input_records += conformed.num_rows
            self._progress.input_bytes += conformed.nbytes
            yield conformed

    @abstractmethod
    def _raw_batches(self) -> Iterator[pa.RecordBatch]: ...


class MysqlArrowRead(_Reads):
    """A read streamed by connectorx (unencrypted sessions)."""

    def __init__(
        self,
        settings: MysqlSettings,
        secrets: tuple[str, ...],
        query: str,
        table: MysqlTable,
        table_name: str,
        request: ReadRequest,
    ) -> None:
        super().__init__(table, table_name, request.batch_rows)
        url = connectorx_url(settings)
        self._secrets = (*secrets, url)
        self._reader: pa.RecordBatchReader | None = None
        failure: SourceReadError | None = None
        try:
            self._reader = connectorx.read_sql(
                url,
                query,
                return_type="arrow_stream",
                batch_size=max(1, request.batch_rows),
                pre_execution_query=UTC_SESSION_SQL,
            )
        except BaseException as error:
            if not _is_driver_failure(error):
                raise
            failure = self._error(error, f'Could not read table "{table_name}"')
        # Raised outside the handler, so the driver's exception (whose message may quote the
        # URL, password included) is not chained to it.
        if failure is not None:
            raise failure

    def _error(self, error: BaseException, what: str) -> SourceReadError:
        if _is_panic(error):
            return UnreadableDataError(
                f'Table "{self._table_name}" holds a value connectorx cannot decode:'
                f" {describe(error, self._secrets)}",
            )
        # A server error keeps its verdict; anything else (a broken connection, the pool
        # giving up) may heal.
        transient = is_transient(error) if error_number(error) is not None else True
        message = str(error).removeprefix("timed out waiting for connection: ")
        return read_error_type(transient)(
            f"{what}: {describe(RuntimeError(message), self._secrets)}"
        )

    def _raw_batches(self) -> Iterator[pa.RecordBatch]:
        return stream_batches(self._reader, self._stream_error)

    def _stream_error(self, error: BaseException) -> SourceReadError | None:
        if not _is_driver_failure(error):
            return None
        return self._error(error, f'Reading table "{self._table_name}" failed')

    def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):  # stops the query and drops its connection
                reader.close()


class MysqlCursorRead(_Reads):
    """A read through the pymysql session's unbuffered cursor (encrypted sessions)."""

    def __init__(
        self, session: _Session, query: str, table: MysqlTable, table_name: str, batch_rows: int
    ) -> None:
        super().__init__(table, table_name, batch_rows)
        self._session: _Session | None = session
        self._cursor_schema = table.cursor_schema
        try:
            self._cursor = session.connection.cursor(pymysql.cursors.SSCursor)
            self._cursor.execute(query)
        except pymysql.MySQLError as error:
            raise session.error(error, f'Could not read table "{table_name}"') from None

    def _raw_batches(self) -> Iterator[pa.RecordBatch]:
        while self._session is not None:
            try:
                rows = self._cursor.fetchmany(max(1, self._batch_rows))
            except pymysql.MySQLError as error:
                what = f'Reading table "{self._table_name}" failed'
                raise self._session.error(error, what) from None
            if not rows:
                return
            yield self._batch_of(rows)

    def _batch_of(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        arrays = []
        for values, field in zip(zip(*rows, strict=True), self._cursor_schema, strict=True):
            try:
                arrays.append(pa.array(values, type=field.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                raise UnreadableDataError(
                    f'Column "{field.name}" of table "{self._table_name}" holds a value that'
                    f" cannot be read as {field.type}: {error}",
                ) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self._cursor_schema)

    def close(self) -> None:
        # Closing the connection, not the cursor: an unbuffered cursor's close reads every
        # remaining row first. The server ends the query when its connection goes.
        session, self._session = self._session, None
        if session is None:
            return
        session.close()
        forget_unbuffered_result(self._cursor)
