"""Reading PostgreSQL tables through ADBC: binary COPY streamed into bounded Arrow batches.

The table is reflected from the catalog (bound parameters), the delta column is matched
exactly against the reflected columns, and every identifier in the read query comes from the
reflection, quoted. Window values are bound parameters too, but not of the read query
itself: ADBC's PostgreSQL driver materialises the whole result of a parameterised query in
one batch (measured with adbc-driver-postgresql 1.13: 2M rows, one batch, ~1 GB RSS), while
a query without parameters streams through `COPY (...) TO STDOUT (FORMAT binary)` (~16 MB
batches, flat memory). So the bounds are bound into two transaction-local settings with
`set_config('sluice.window_lower', $1, true)`, and the read query, in the same transaction,
takes them back once, in init-plans `(SELECT current_setting('sluice.window_lower')::<column
type>)`, which an index on the delta column can use. Being transaction-local, the settings
never outlive the read, even behind a transaction-pooling proxy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import adbc_driver_manager
import pyarrow as pa

from sluice.connectors.batching import bounded, quote_identifier
from sluice.connectors.errors import SourceReadError, TerminalReadError
from sluice.connectors.postgresql.catalog import (
    REFLECT_SQL,
    PgTable,
    parse_table_name,
    table_from_rows,
)
from sluice.connectors.postgresql.connection import AdbcSession
from sluice.connectors.postgresql.unrepresentable import drop_unrepresentable
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.connectors.tables.adbc_read import AdbcRead
from sluice.connectors.tables.conform import conform
from sluice.connectors.tables.reflection import (
    DeltaTypes,
    delta_column_checker,
    existing_table,
    table_name_of,
)
from sluice.connectors.tables.split_windows import (
    SplitWindowError,
    offer_split,
    parallel_windows,
)
from sluice.connectors.tables.windowing import Bounds, DeltaKind, window_where

# Rows per Arrow batch are bounded by ReadRequest.batch_rows (slicing); bytes per batch the
# driver builds from COPY are bounded by this hint (8 MiB: 56 MiB less peak memory on the 5M-row
# benchmark window than 16 MiB, for the same CPU).
BATCH_HINT_BYTES = 8 * 1024 * 1024
_BATCH_HINT_OPTION = "adbc.postgresql.batch_size_hint_bytes"
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")
_LOWER_SETTING = "sluice.window_lower"
_UPPER_SETTING = "sluice.window_upper"

_BOUND_CASTS = {
    DeltaKind.TIMESTAMPTZ: "pg_catalog.timestamptz",
    DeltaKind.TIMESTAMP: "pg_catalog.timestamp",
    DeltaKind.DATE: "pg_catalog.date",
    DeltaKind.EPOCH: "pg_catalog.int8",
}

DELTA_TYPES = DeltaTypes(
    accepted="timestamptz, timestamp, date or integer (epoch seconds)",
    type_of=lambda c: str(c.display_type),
)


def reflect(session: AdbcSession, table_name: str) -> PgTable | None:
    """The table as the catalog describes it, or None when it does not exist."""
    schema, table = parse_table_name(table_name)
    cursor = session.connection.cursor()
    try:
        cursor.execute(REFLECT_SQL, (table, schema))
        rows = cursor.fetchall()
    except adbc_driver_manager.Error as error:
        what = f'Could not read the definition of table "{table_name}"'
        raise session.error(error, what) from None
    finally:
        cursor.close()
    return table_from_rows(rows)


check_delta_column = delta_column_checker(AdbcSession, reflect, DELTA_TYPES)


@parallel_windows
def open_source(
    context: Any, auth: Mapping[str, Any], source: Mapping[str, Any], request: ReadRequest
) -> SourceRead:
    """Start reading the rows of the table whose delta column lies in the request's window."""
    table_name = table_name_of(source)
    session = AdbcSession(context, auth)
    try:
        # First statement of the read's transaction: the count and the read see one snapshot.
        _execute(session, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if request.snapshot is not None:  # a part of a parallel window: the cut's snapshot
            _execute(session, f"SET TRANSACTION SNAPSHOT '{_snapshot_id(request.snapshot)}'")
        table = existing_table(table_name, reflect(session, table_name))
        if not table.columns:
            raise TerminalReadError(f'Table "{table_name}" has no columns.')
        where = _where_clause(session, table, table_name, request)
        source_count = None
        if request.limit is None:
            source_count = _count(session, f"SELECT count(*) FROM {table.quoted_name}{where}")
            try:
                offer_split(request, source_count)
            except SplitWindowError as split:
                # The parts read in this count's snapshot: this transaction, which holds it,
                # stays open until every part has imported it.
                split.share(_export_snapshot(session), session.close)
                raise
        columns = ", ".join(
            f"{c.select_expression} AS {quote_identifier(c.name)}" for c in table.columns
        )
        query = f"SELECT {columns} FROM {table.quoted_name}{where}{_limit_clause(request)}"
        cursor = session.connection.cursor()
        try:
            cursor.adbc_statement.set_options(**{_BATCH_HINT_OPTION: str(BATCH_HINT_BYTES)})
            cursor.execute(query)
            reader = cursor.fetch_record_batch()
        except adbc_driver_manager.Error as error:
            cursor.close()
            raise session.error(error, f'Could not read table "{table_name}"') from None
    except SplitWindowError as split:
        if split.snapshot is None:  # exporting failed: nothing holds the session open
            session.close()
        raise
    except BaseException:
        session.close()
        raise
    read = PostgresRead(session, cursor, reader, table, table_name, request.batch_rows)
    read.progress.source_count = source_count
    # The exact count doubles as the progress estimate: no planner query of its own.
    read.progress.expected_records = source_count
    return read


def _execute(session: AdbcSession, sql: str) -> None:
    cursor = session.connection.cursor()
    try:
        cursor.execute(sql)
    except adbc_driver_manager.Error as error:
        raise session.error(error, "Could not start the read") from None
    finally:
        cursor.close()


def _export_snapshot(session: AdbcSession) -> str:
    """The id of the read transaction's snapshot, for the parts of a parallel window."""
    cursor = session.connection.cursor()
    try:
        cursor.execute("SELECT pg_catalog.pg_export_snapshot()")
        row = cursor.fetchone()
    except adbc_driver_manager.Error as error:
        raise session.error(error, "Could not share the window's snapshot") from None
    finally:
        cursor.close()
    return _snapshot_id(str(row[0]) if row else "")


def _snapshot_id(snapshot: str) -> str:
    """An exported snapshot id (hex groups and dashes), checked before it is put in SQL."""
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise TerminalReadError(f"Not a PostgreSQL snapshot id: {snapshot[:40]!r}.")
    return snapshot


def _count(session: AdbcSession, sql: str) -> int:
    """The window's rows, by the read's own predicate: one query per run, not per batch."""
    cursor = session.connection.cursor()
    try:
        cursor.execute(sql)
        row = cursor.fetchone()
    except adbc_driver_manager.Error as error:
        raise session.error(error, "Could not count the window's rows") from None
    finally:
        cursor.close()
    return int(row[0]) if row else 0


def _where_clause(
    session: AdbcSession, table: PgTable, table_name: str, request: ReadRequest
) -> str:
    """` WHERE ...` selecting the window, its bounds bound into session settings; or ''."""
    if request.window is None:
        return ""
    selected = DELTA_TYPES.select(table_name, table, request)
    assert selected is not None
    column, kind, bounds = selected
    _bind_bounds(session, bounds)
    cast = _BOUND_CASTS[kind]
    lower, upper = (
        None if bound is None else f"(SELECT current_setting('{setting}')::{cast})"
        for bound, setting in ((bounds.lower, _LOWER_SETTING), (bounds.upper, _UPPER_SETTING))
    )
    return window_where(quote_identifier(column.name), lower, upper)


def _limit_clause(request: ReadRequest) -> str:
    """` LIMIT n` for a preview: an integer literal Sluice formats (COPY takes no parameters)."""
    if request.limit is None:
        return ""
    return f" LIMIT {max(int(request.limit), 0):d}"


def _bind_bounds(session: AdbcSession, bounds: Bounds) -> None:
    values = tuple(
        "" if b is None else str(b) if isinstance(b, int) else b.isoformat()
        for b in (bounds.lower, bounds.upper)
    )
    cursor = session.connection.cursor()
    try:
        cursor.execute(
            f"SELECT pg_catalog.set_config('{_LOWER_SETTING}', $1, true),"
            f" pg_catalog.set_config('{_UPPER_SETTING}', $2, true)",
            values,
        )
        cursor.fetchall()
    except adbc_driver_manager.Error as error:
        raise session.error(error, "Could not set the window") from None
    finally:
        cursor.close()


class PostgresRead(AdbcRead):
    """An open read of one table: batches of the reflected schema, at most batch_rows each."""

    def __init__(
        self,
        session: AdbcSession,
        cursor: Any,
        reader: pa.RecordBatchReader,
        table: PgTable,
        table_name: str,
        batch_rows: int,
    ) -> None:
        super().__init__(table.arrow_schema, reader, cursor, session)
        self._session = session
        self._table_name = table_name
        self._batch_rows = batch_rows
        self._decimal_columns = frozenset(c.name for c in table.columns if c.is_decimal)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for batch in bounded(self._conformed(), self._batch_rows):
            self._progress.input_records += batch.num_rows
            yield batch

    def _conformed(self) -> Iterator[pa.RecordBatch]:
        rows_seen = 0
        for raw in self._raw_batches():
            first_row, rows_seen = rows_seen, rows_seen + raw.num_rows
            held = drop_unrepresentable(
                raw, self._table_name, first_row, self._progress.bad_rows, self._decimal_columns
            )
            batch = conform(held, self._schema, self._table_name)
            self._progress.input_bytes += batch.nbytes
            yield batch

    def _read_error(self, error: BaseException) -> SourceReadError:
        return self._session.error(error, f'Reading table "{self._table_name}" failed')
