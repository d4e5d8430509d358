"""Reading SQLite tables through ADBC, read-only, typed by the columns' declared types.

SQLite stores any value in any column; ADBC's SQLite driver guesses each column's Arrow type
from the first batch (an all-NULL column becomes int64) and fails on a later value of another
type (apache/arrow-adbc#581). So the reader decides the types from the declared ones:

- a first sentinel row (`UNION ALL`, dropped from the output) carries a typed value for
  every column, so the driver's guess is the declared storage class;
- columns that may mix storage classes are selected through a CAST to one class;
- each batch is then cast to the reflected Arrow schema (DATE text to date32, DATETIME and
  TIMESTAMP text to timestamp[us], DECIMAL(p, s) to decimal128(p, s), BOOLEAN to bool).

A value of another class where the declared type allows only one (text in an INTEGER column)
fails the read with a terminal error naming the column, rather than being coerced.

DATE, DATETIME and TIMESTAMP columns are assumed to hold ISO-8601 text without a zone
('YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS[.ffffff]', or with 'T'). The window compares
`date(col)` / `datetime(col)` (SQLite's canonical text of the value, seconds resolution,
which is exact for whole-second bounds) with bounds formatted the same way, as text;
DATETIME values are wall times in the request's timezone. Values SQLite cannot parse as a
date are in no window. INTEGER delta columns hold epoch seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

import adbc_driver_manager
import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.batching import one_line, quote_identifier
from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import (
    SourceReadError,
    UnreadableDataError,
)
from sluice.connectors.reading import ReadRequest, SourceRead
from sluice.connectors.sqlite.database import connect, read_error
from sluice.connectors.tables.adbc_read import AdbcRead
from sluice.connectors.tables.conform import cast_column
from sluice.connectors.tables.reflection import (
    DeltaTypes,
    ReflectedTable,
    delta_column_checker,
    existing_table,
    table_name_of,
)
from sluice.connectors.tables.split_windows import offer_split, parallel_windows
from sluice.connectors.tables.windowing import Bound, DeltaKind, window_where

_BATCH_ROWS_OPTION = "adbc.sqlite.query.batch_rows"
_SENTINEL = "__sluice_sentinel"
_DECIMAL_TYPE = re.compile(r"\s*(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*")

DELTA_TYPES = DeltaTypes(
    accepted="DATETIME, TIMESTAMP, DATE or INTEGER (epoch seconds)",
    type_of=lambda c: str(c.declared_type or "no declared type"),
)


class Storage(Enum):
    """What a declared type reads as: (SQLite sentinel literal, driver's Arrow type)."""

    INTEGER = ("0", pa.int64())
    REAL = ("0.0", pa.float64())
    TEXT = ("''", pa.string())
    BLOB = ("x''", pa.binary())


@dataclass(frozen=True)
class SqliteColumn:
    """A reflected column; its declared type decides its Arrow type and how it is selected."""

    name: str
    declared_type: str

    @property
    def _upper(self) -> str:
        return self.declared_type.upper()

    @property
    def _decimal(self) -> tuple[int, int] | None:
        found = _DECIMAL_TYPE.fullmatch(self._upper)
        if found is None:
            return None
        precision, scale = int(found.group(1)), int(found.group(2) or 0)
        return (precision, scale) if 1 <= precision <= 38 and scale <= precision else None

    @property
    def _base(self) -> str:
        return self._upper.split("(", 1)[0].strip()

    @property
    def delta_kind(self) -> DeltaKind | None:
        if self._base == "DATE":
            return DeltaKind.DATE
        if self._base in ("DATETIME", "TIMESTAMP"):
            return DeltaKind.TIMESTAMP
        if self.storage is Storage.INTEGER and self._base not in ("BOOLEAN", "BOOL"):
            return DeltaKind.EPOCH
        return None

    @property
    def storage(self) -> Storage:
        """The one storage class selected for this column (SQLite's affinity rules, mostly)."""
        upper = self._upper
        if self._decimal or self._base in ("DATE", "DATETIME", "TIMESTAMP") or not upper:
            return Storage.TEXT
        if "INT" in upper or self._base in ("BOOLEAN", "BOOL"):
            return Storage.INTEGER
        if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
            return Storage.TEXT
        if "BLOB" in upper:
            return Storage.BLOB
        # REAL affinity, and NUMERIC affinity without (p, s): integers read as doubles.
        return Storage.REAL

    @property
    def arrow_type(self) -> pa.DataType:
        decimal = self._decimal
        if decimal:
            return pa.decimal128(*decimal)
        if self._base == "DATE":
            return pa.date32()
        if self._base in ("DATETIME", "TIMESTAMP"):
            return pa.timestamp("us")
        if self._base in ("BOOLEAN", "BOOL"):
            return pa.bool_()
        return self.storage.value[1]

    @property
    def select_expression(self) -> str:
        column = quote_identifier(self.name)
        decimal = self._decimal
        if decimal:
            # Doubles rounded to the declared scale; integers and text kept exact.
            return (
                f"CASE typeof({column}) WHEN 'real' THEN CAST(round({column}, {decimal[1]})"
                f" AS TEXT) ELSE CAST({column} AS TEXT) END"
            )
        if self.storage is Storage.TEXT and not any(
            word in self._upper for word in ("CHAR", "CLOB", "TEXT")
        ):
            return f"CAST({column} AS TEXT)"  # dates, and columns without a declared type
        return column


@dataclass(frozen=True)
class SqliteTable(ReflectedTable[SqliteColumn]):
    """A reflected table or view: its stored name and its columns in order."""

    name: str
    columns: tuple[SqliteColumn, ...]


def reflect(connection: Any, table_name: str) -> SqliteTable | None:
    """The table as SQLite declares it, or None when there is no such table or view."""
    cursor = connection.cursor()
    try:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name = ? COLLATE NOCASE",
            (table_name,),
        )
        found = cursor.fetchall()
        if not found:
            return None
        stored_name = str(found[0][0])
        cursor.execute("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", (stored_name,))
        rows = cursor.fetchall()
    except adbc_driver_manager.Error as error:
        raise read_error(error, f'Could not read the definition of table "{table_name}"') from None
    finally:
        cursor.close()
    columns = tuple(SqliteColumn(str(name), str(declared or "")) for name, declared in rows)
    return SqliteTable(name=stored_name, columns=columns)


check_delta_column = delta_column_checker(
    lambda context, auth: connect(context, auth)[0], reflect, DELTA_TYPES
)


@parallel_windows
def open_source(
    context: ConnectorContext,
    auth: Mapping[str, Any],
    source: Mapping[str, Any],
    request: ReadRequest,
) -> SourceRead:
    """Start reading the rows of the table whose delta column lies in the request's window."""
    table_name = table_name_of(source)
    connection, _ = connect(context, auth)
    try:
        # One read transaction from here on: the count and the read see one snapshot.
        _run(connection, "BEGIN", (), "Could not start the read")
        table = existing_table(table_name, reflect(connection, table_name))
        where, parameters = _where_clause(table, table_name, request)
        source_count = None
        if request.limit is None:
            counting = f"SELECT count(*) FROM {quote_identifier(table.name)}{where}"
            found = _run(connection, counting, parameters, "Could not count the window's rows")
            source_count = int(found[0]) if found else 0
            offer_split(request, source_count)
        sentinels = ", ".join(
            f"{c.storage.value[0]} AS {quote_identifier(c.name)}" for c in table.columns
        )
        columns = ", ".join(c.select_expression for c in table.columns)
        rows = f"SELECT 0, {columns} FROM {quote_identifier(table.name)}{where}"
        if request.limit is not None:
            # Inside a subquery: a LIMIT on the compound would count the sentinel row too.
            rows = f"SELECT * FROM ({rows} LIMIT ?)"
            parameters = (*parameters, max(int(request.limit), 0))
        query = f"SELECT 1 AS {_SENTINEL}, {sentinels} UNION ALL {rows}"
        cursor = connection.cursor()
        try:
            cursor.adbc_statement.set_options(**{_BATCH_ROWS_OPTION: str(request.batch_rows)})
            cursor.execute(query, parameters or None)
            reader = cursor.fetch_record_batch()
        except adbc_driver_manager.Error as error:
            cursor.close()
            raise read_error(error, f'Could not read table "{table_name}"') from None
    except BaseException:
        connection.close()
        raise
    read = SqliteRead(connection, cursor, reader, table, table_name)
    read.progress.source_count = source_count
    return read


def _run(connection: Any, sql: str, parameters: tuple[Any, ...], what: str) -> Any:
    """One statement on the read's connection; its first row (None for none)."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql, parameters or None)
        return cursor.fetchone() if cursor.description else None
    except adbc_driver_manager.Error as error:
        raise read_error(error, what) from None
    finally:
        cursor.close()


def _where_clause(
    table: SqliteTable, table_name: str, request: ReadRequest
) -> tuple[str, tuple[Any, ...]]:
    """(` WHERE ...` selecting the window with `?` placeholders, its bound values)."""
    if request.window is None:
        return "", ()
    selected = DELTA_TYPES.select(table_name, table, request)
    assert selected is not None
    column, kind, bounds = selected
    quoted = quote_identifier(column.name)
    value = {
        DeltaKind.EPOCH: quoted,
        DeltaKind.DATE: f"date({quoted})",
        DeltaKind.TIMESTAMP: f"datetime({quoted})",
    }[kind]
    sides = (bounds.lower, bounds.upper)
    where = window_where(value, *(None if b is None else "?" for b in sides))
    return where, tuple(_sqlite_bound(b) for b in sides if b is not None)


def _sqlite_bound(bound: Bound) -> int | str:
    """A bound in the canonical text of SQLite's date() and datetime(), or an integer."""
    if isinstance(bound, datetime):
        return bound.isoformat(sep=" ", timespec="seconds")
    if isinstance(bound, date):
        return bound.isoformat()
    return bound


class SqliteRead(AdbcRead):
    """An open read of one table: batches of the reflected schema, at most batch_rows each."""

    def __init__(
        self,
        connection: Any,
        cursor: Any,
        reader: pa.RecordBatchReader,
        table: SqliteTable,
        table_name: str,
    ) -> None:
        super().__init__(table.arrow_schema, reader, cursor, connection)
        self._table = table
        self._table_name = table_name

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for raw in self._raw_batches():
            batch = self._conform(raw)
            if batch.num_rows:
                self._progress.input_records += batch.num_rows
                self._progress.input_bytes += batch.nbytes
                yield batch

    def _read_error(self, error: BaseException) -> SourceReadError:
        found = re.search(r"Type mismatch in column (\d+)", str(error))
        if found and 1 <= int(found.group(1)) <= len(self._table.columns):
            column = self._table.columns[int(found.group(1)) - 1]
            return UnreadableDataError(
                f'Column "{column.name}" of table "{self._table_name}" holds a value that is'
                f" not {column.declared_type or 'text'} (SQLite does not enforce declared"
                f" types): {one_line(str(error))}",
            )
        return read_error(error, f'Reading table "{self._table_name}" failed')

    def _conform(self, raw: pa.RecordBatch) -> pa.RecordBatch:
        """Drop the sentinel row; cast each column to the reflected schema."""
        keep = pc.equal(raw.column(0), 0)
        if not pc.all(keep).as_py():
            raw = raw.filter(keep)
        arrays = []
        for array, field in zip(raw.columns[1:], self._schema, strict=True):
            if array.type != field.type and field.type == pa.date32():
                array = pc.utf8_slice_codeunits(array, 0, 10)  # 'YYYY-MM-DD[ HH:MM:SS]'
            arrays.append(cast_column(array, field, self._table_name))
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema)
