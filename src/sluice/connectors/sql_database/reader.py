"""Reading a table of any allowed SQLAlchemy database through a server-side cursor.

The table is reflected with SQLAlchemy Core (`Table(..., autoload_with=...)`), so every
identifier in the query is the reflected one, quoted by the dialect; window bounds are bound
parameters. The query runs with `stream_results` (a server-side cursor: a named cursor on
PostgreSQL, an unbuffered one on MySQL) and `yield_per(batch_rows)`, so at most one batch of
rows is in memory; each batch becomes an Arrow record batch of the reflected schema.

On SQLite, dates and datetimes are text: the window compares `date(col)` / `datetime(col)`
with bounds in the same canonical text, as the SQLite reader does.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, SAWarning, SQLAlchemyError

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import (
    ConnectionTestFailed,
    SourceReadError,
    TerminalReadError,
    UnreadableDataError,
    read_error_type,
)
from sluice.connectors.mysql.session import forget_unbuffered_result
from sluice.connectors.read_base import SelfClosingRead
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.connectors.sql_database.arrow_types import SaColumn, column_of
from sluice.connectors.sql_database.connection import (
    DatabaseConnectFailed,
    DatabaseUrl,
    connect,
    describe,
    is_transient,
    parse_url,
)
from sluice.connectors.tables.reflection import (
    DeltaTypes,
    ReflectedTable,
    delta_column_checker,
    existing_table,
    table_name_of,
)
from sluice.connectors.tables.split_windows import offer_split, parallel_windows
from sluice.connectors.tables.windowing import Bound, DeltaKind

DELTA_TYPES = DeltaTypes(
    accepted="timestamp, datetime, date or integer (epoch seconds)",
    type_of=lambda c: str(c.type_name),
)


class _Session:
    """An open SQLAlchemy connection and the secrets its errors must never show."""

    def __init__(self, context: ConnectorContext, auth: Mapping[str, Any]) -> None:
        try:
            self.url: DatabaseUrl = parse_url(context, auth)
            self.connection = connect(context, self.url)
        except DatabaseConnectFailed as error:
            raise error.read_error(str(error)) from None
        except ConnectionTestFailed as error:  # a refused URL or host
            raise TerminalReadError(str(error)) from None

    @property
    def dialect(self) -> str:
        return self.url.dialect

    def error(self, error: BaseException, what: str) -> SourceReadError:
        detail = describe(error, self.url.secrets)
        return read_error_type(is_transient(error))(f"{what}: {detail}")

    def close(self, *, abandon: bool = False) -> None:
        """Release the connection; `abandon` drops it rather than let the driver read the rest
        of an unfinished result first (an unbuffered MySQL cursor would)."""
        with contextlib.suppress(Exception):  # closing after a failure must not hide it
            if abandon:
                self.connection.invalidate()
            self.connection.close()
        with contextlib.suppress(Exception):
            self.connection.engine.dispose()


class SaTable(ReflectedTable[SaColumn]):
    """A reflected table: the SQLAlchemy Table to query and its columns as Sluice reads them."""

    def __init__(self, table: sa.Table, dialect: str) -> None:
        self.table = table
        self.columns = tuple(column_of(c, dialect) for c in table.columns)


def split_table_name(table_name: str) -> tuple[str | None, str]:
    """(schema or None, table): `schema.table` or `table`, each part taken literally."""
    schema, dot, table = table_name.partition(".")
    return (schema, table) if dot else (None, table_name)


def reflect(session: _Session, table_name: str) -> SaTable | None:
    """The table as the database describes it, or None when it does not exist."""
    schema, name = split_table_name(table_name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # unknown column types: read as text
            table = sa.Table(name, sa.MetaData(), schema=schema, autoload_with=session.connection)
    except NoSuchTableError:
        return None
    except SQLAlchemyError as error:
        raise session.error(
            error, f'Could not read the definition of table "{table_name}"'
        ) from None
    finally:
        _end_transaction(session)
    if session.dialect in ("mysql", "mariadb"):
        table = _unescaped_mysql_names(table)
    return SaTable(table, session.dialect)


def _unescaped_mysql_names(table: sa.Table) -> sa.Table:
    """SQLAlchemy's MySQL reflection parses SHOW CREATE TABLE and keeps a backtick in a column
    name doubled, as that text escapes it; the table with the columns' real names."""
    if not any("``" in c.name for c in table.columns):
        return table
    columns = [sa.Column(c.name.replace("``", "`"), c.type) for c in table.columns]
    return sa.Table(table.name, sa.MetaData(), *columns, schema=table.schema)


def _end_transaction(session: _Session) -> None:
    with contextlib.suppress(SQLAlchemyError):
        session.connection.rollback()


check_delta_column = delta_column_checker(_Session, reflect, DELTA_TYPES)


def read_statement(
    table: SaTable, table_name: str, request: ReadRequest, dialect: str
) -> sa.Select[Any]:
    """The SELECT of the request's rows, its window bounds as bound parameters."""
    statement = sa.select(
        *(
            sa.type_coerce(c, sa.types.NullType()).label(c.name) if column.raw else c
            for c, column in zip(table.table.columns, table.columns, strict=True)
        )
    )
    selected = DELTA_TYPES.select(table_name, table, request)
    if selected is not None:
        column, kind, bounds = selected
        compared, convert = _compared(table.table.columns[column.name], kind, dialect)
        statement = statement.where(compared.is_not(None))
        if bounds.lower is not None:
            statement = statement.where(compared >= convert(bounds.lower))
        if bounds.upper is not None:
            statement = statement.where(compared < convert(bounds.upper))
    if request.limit is not None:
        statement = statement.limit(max(0, int(request.limit)))
    return statement


def _compared(
    column: sa.Column[Any], kind: DeltaKind, dialect: str
) -> tuple[sa.ColumnElement[Any], Any]:
    """(the expression compared to the bounds, how a bound becomes its parameter value)."""
    if dialect == "sqlite" and kind is DeltaKind.DATE:
        return sa.func.date(column, type_=sa.String()), lambda b: b.isoformat()
    if dialect == "sqlite" and kind is not DeltaKind.EPOCH:
        return sa.func.datetime(column, type_=sa.String()), _sqlite_datetime
    if dialect in ("mysql", "mariadb") and kind is DeltaKind.TIMESTAMPTZ:
        return column, _naive_utc  # the session is in UTC; pymysql ignores zones
    return column, lambda b: b


def _sqlite_datetime(bound: Bound) -> str:
    assert isinstance(bound, datetime)
    return bound.isoformat(sep=" ", timespec="seconds")  # naive: SQLite has no zones


def _naive_utc(bound: Bound) -> Bound:
    if isinstance(bound, datetime) and bound.tzinfo is not None:
        return bound.astimezone(UTC).replace(tzinfo=None)
    assert isinstance(bound, (datetime, date))
    return bound


@parallel_windows
def open_source(
    context: ConnectorContext,
    auth: Mapping[str, Any],
    source: Mapping[str, Any],
    request: ReadRequest,
) -> SourceRead:
    """Start reading the rows of the table whose delta column lies in the request's window."""
    table_name = table_name_of(source)
    session = _Session(context, auth)
    try:
        table = existing_table(table_name, reflect(session, table_name))
        if not table.columns:
            raise TerminalReadError(f'Table "{table_name}" has no columns.')
        statement = read_statement(table, table_name, request, session.dialect)
        batch_rows = max(1, request.batch_rows)
        options: dict[str, Any] = {"stream_results": True, "yield_per": batch_rows}
        if session.dialect == "postgresql":
            options["postgresql_readonly"] = True
        # Set before the transaction begins (the count's statement begins it).
        connection = session.connection.execution_options(**options)
        source_count = None
        if request.limit is None:
            # The same statement counted, on the read's connection and transaction: the
            # database's isolation level decides whether both see one snapshot.
            counting = sa.select(sa.func.count()).select_from(statement.subquery())
            try:
                source_count = int(connection.execute(counting).scalar_one())
            except SQLAlchemyError as error:
                raise session.error(error, "Could not count the window's rows") from None
            offer_split(request, source_count)
        try:
            result = connection.execute(statement)
        except SQLAlchemyError as error:
            raise session.error(error, f'Could not read table "{table_name}"') from None
    except BaseException:
        session.close(abandon=True)
        raise
    read = SqlAlchemyRead(session, result, table, table_name)
    read.progress.source_count = source_count
    return read


class SqlAlchemyRead(SelfClosingRead):
    """An open read of one table: batches of the reflected schema, at most batch_rows each."""

    def __init__(
        self, session: _Session, result: sa.CursorResult[Any], table: SaTable, table_name: str
    ) -> None:
        super().__init__(table.arrow_schema)
        self._session: _Session | None = session
        self._result = result
        self._table = table
        self._table_name = table_name
        self._finished = False

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for rows in self._partitions():
            batch = self._batch_of(rows)
            self._progress.input_records += batch.num_rows
            self._progress.input_bytes += batch.nbytes
            yield batch
        self._finished = True

    def _partitions(self) -> Iterator[Sequence[sa.Row[Any]]]:
        partitions = self._result.partitions()
        while self._session is not None:
            failure: SourceReadError | None = None
            try:
                rows = next(partitions)
            except StopIteration:
                return
            except SQLAlchemyError as error:
                failure = self._session.error(error, f'Reading table "{self._table_name}" failed')
            except ValueError as error:  # a result processor could not parse a value
                failure = self._bad_value(str(error))
            if failure is not None:
                raise failure
            yield rows

    def _batch_of(self, rows: Sequence[sa.Row[Any]]) -> pa.RecordBatch:
        arrays = []
        for index, column in enumerate(self._table.columns):
            values = [row[index] for row in rows]
            try:
                arrays.append(column.convert(values))
            except (pa.ArrowException, ValueError, TypeError, OverflowError) as error:
                raise self._bad_value(
                    f'column "{column.name}" holds a value that cannot be read as'
                    f" {column.arrow_type}: {error}"
                ) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema)

    def _bad_value(self, detail: str) -> SourceReadError:
        return UnreadableDataError(f'Table "{self._table_name}": {detail}')

    def close(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        if self._finished:
            with contextlib.suppress(Exception):
                self._result.close()
            session.close()
            return
        # Abandoned mid-way (a preview, a cancelled run): drop the connection rather than let
        # the driver read the rest of the rows.
        dbapi_cursor = self._result.cursor
        session.close(abandon=True)
        forget_unbuffered_result(dbapi_cursor)
