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

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc_pg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg.conninfo import conninfo_to_dict

from sluice.connectors.readers.adbc_read import AdbcRead
from sluice.connectors.readers.batching import bounded, one_line, quote_identifier
from sluice.connectors.readers.pg_catalog import (
    REFLECT_SQL,
    PgTable,
    parse_table_name,
    table_from_rows,
)
from sluice.connectors.readers.table_read import (
    DeltaTypes,
    delta_column_checker,
    existing_table,
    table_name_of,
)
from sluice.connectors.readers.windowing import Bounds, DeltaKind
from sluice.connectors.reading import ReadRequest, SourceRead, SourceReadError
from sluice.connectors.registry import ConnectionTestFailed

# Rows per Arrow batch are bounded by ReadRequest.batch_rows (slicing); bytes per batch the
# driver builds from COPY are bounded by this hint.
BATCH_HINT_BYTES = 16 * 1024 * 1024
_BATCH_HINT_OPTION = "adbc.postgresql.batch_size_hint_bytes"
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


class _Session:
    """An ADBC connection with the connection's secrets, to keep them out of messages."""

    def __init__(self, context: Any, auth: Mapping[str, Any]) -> None:
        # Imported here: the spec module imports this one to set its `open_source`.
        from sluice.connectors.specs.postgresql import _explain, build_conninfo, guard_hosts

        try:
            guard_hosts(context, auth)
            conninfo = build_conninfo(auth)
        except ConnectionTestFailed as error:
            raise SourceReadError(str(error), transient=False) from None
        password = str(auth.get("password") or conninfo_to_dict(conninfo).get("password") or "")
        self.secrets = (
            password,
            quote(password, safe=""),
            quote_plus(password),
            str(auth.get("connectionString", "")),
            conninfo,
        )
        failure: tuple[str, bool] | None = None
        try:
            # Not autocommit: the window's settings and the read share one transaction.
            self.connection = adbc_pg.connect(conninfo, autocommit=False)
        except adbc_driver_manager.Error as error:
            # Build the message outside the handler: the driver error may hold the password.
            failure = (_without_status(str(error)), is_transient(error, str(error)))
        if failure is not None:
            raise SourceReadError(_explain(failure[0], self.secrets), transient=failure[1])

    def error(self, error: BaseException, what: str) -> SourceReadError:
        """A SourceReadError for a driver error, with no secret in its message."""
        from sluice.connectors.specs.postgresql import _redact

        text = str(error)
        detail = _redact(one_line(_without_status(text)), self.secrets)
        return SourceReadError(f"{what}: {detail}", transient=is_transient(error, text))

    def close(self) -> None:
        # Only reads happened: roll back. Closing after a failure must not hide the failure.
        for release in (self.connection.rollback, self.connection.close):
            with contextlib.suppress(Exception):
                release()


_TERMINAL_MARKERS = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "does not exist",
    "pg_hba.conf",
    "permission denied",
)
# SQLSTATE classes worth a retry: connection (08), resources (53), operator intervention
# (57: shutdown, cancel), transaction rollback (40: deadlock, serialization), system (58),
# lock not available (55P03).
_TRANSIENT_STATES = ("08", "53", "57", "40", "58", "55P03")


def is_transient(error: BaseException, message: str) -> bool:
    """Whether retrying may succeed: by SQLSTATE class, else by the message."""
    state = getattr(error, "sqlstate", None)
    if not state:
        found = re.search(r"SQLSTATE: ([0-9A-Z]{5})", message)
        state = found.group(1) if found else None
    if state:
        return str(state).startswith(_TRANSIENT_STATES)
    lowered = message.lower()
    return not any(marker in lowered for marker in _TERMINAL_MARKERS)


def _without_status(message: str) -> str:
    """The driver message without ADBC's `IO: [libpq] ` prefix."""
    return re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", message.strip())


def reflect(session: _Session, table_name: str) -> PgTable | None:
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


check_delta_column = delta_column_checker(_Session, reflect, DELTA_TYPES)


def open_source(
    context: Any, auth: Mapping[str, Any], source: Mapping[str, Any], request: ReadRequest
) -> SourceRead:
    """Start reading the rows of the table whose delta column lies in the request's window."""
    table_name = table_name_of(source)
    session = _Session(context, auth)
    try:
        table = existing_table(table_name, reflect(session, table_name))
        if not table.columns:
            raise SourceReadError(f'Table "{table_name}" has no columns.', transient=False)
        where = _where_clause(session, table, table_name, request)
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
    except BaseException:
        session.close()
        raise
    return PostgresRead(session, cursor, reader, table, table_name, request.batch_rows)


def _where_clause(session: _Session, table: PgTable, table_name: str, request: ReadRequest) -> str:
    """` WHERE ...` selecting the window, its bounds bound into session settings; or ''."""
    if request.window is None:
        return ""
    selected = DELTA_TYPES.select(table_name, table, request)
    assert selected is not None
    column, kind, bounds = selected
    _bind_bounds(session, bounds)
    delta = quote_identifier(column.name)
    cast = _BOUND_CASTS[kind]
    conditions = [f"{delta} IS NOT NULL"]
    if bounds.lower is not None:
        conditions.append(f"{delta} >= (SELECT current_setting('{_LOWER_SETTING}')::{cast})")
    if bounds.upper is not None:
        conditions.append(f"{delta} < (SELECT current_setting('{_UPPER_SETTING}')::{cast})")
    return " WHERE " + " AND ".join(conditions)


def _limit_clause(request: ReadRequest) -> str:
    """` LIMIT n` for a preview: an integer literal Sluice formats (COPY takes no parameters)."""
    if request.limit is None:
        return ""
    return f" LIMIT {max(int(request.limit), 0):d}"


def _bind_bounds(session: _Session, bounds: Bounds) -> None:
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
        session: _Session,
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

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for batch in bounded(self._conformed(), self._batch_rows):
            self._progress.input_records += batch.num_rows
            yield batch

    def _conformed(self) -> Iterator[pa.RecordBatch]:
        for raw in self._raw_batches():
            batch = conform(raw, self._schema, self._table_name)
            self._progress.input_bytes += batch.nbytes
            yield batch

    def _read_error(self, error: BaseException) -> SourceReadError:
        return self._session.error(error, f'Reading table "{self._table_name}" failed')


def conform(batch: pa.RecordBatch, schema: pa.Schema, table_name: str) -> pa.RecordBatch:
    """`batch` with exactly `schema`'s types (unwrapping ADBC's opaque extension types)."""
    arrays = []
    for array, field in zip(batch.columns, schema, strict=True):
        if isinstance(array, pa.ExtensionArray):
            array = array.storage
        if array.type != field.type:
            try:
                array = pc.cast(array, field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise SourceReadError(
                    f'Column "{field.name}" of table "{table_name}" holds a value that cannot'
                    f" be read as {field.type}: {one_line(str(error))}",
                    transient=False,
                    code="CONNECTOR-2001-500",
                ) from None
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
