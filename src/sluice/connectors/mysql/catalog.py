"""MySQL / MariaDB tables as Sluice reads them: the reflected columns, the Arrow type each one
lands as, the SQL that selects it, and the typed literals of window bounds.

Every column is selected through an expression both read paths (connectorx and the pymysql
cursor) can decode without loss; the batches are then cast to `MysqlTable.arrow_schema`:

- DECIMAL(p, s) reaches connectorx as decimal(38, 10) through a 96-bit decimal, so only
  p <= 28 and s <= 10 go that way; wider decimals are selected as text and cast exactly.
- DATETIME / TIMESTAMP / DATE zero dates ('0000-00-00', or a zero month or day) read as NULL;
  TIME (which spans -838..838 hours) and types without an Arrow counterpart read as text.
- TIMESTAMP values are read in a UTC session, so they land as timestamp[us, UTC]; DATETIME
  has no zone and lands as timestamp[us].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from sluice.connectors.tables.reflection import ReflectedTable
from sluice.connectors.tables.windowing import Bound, DeltaKind

# The columns of the table `%s` in database `%s` (the connection's database when '').
# information_schema compares names ignoring case; `table_from_rows` picks the exact one.
REFLECT_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE,"
    " NUMERIC_PRECISION, NUMERIC_SCALE"
    " FROM information_schema.COLUMNS"
    " WHERE TABLE_NAME = %s AND TABLE_SCHEMA = COALESCE(NULLIF(%s, ''), DATABASE())"
    " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
)

# connectorx decodes DECIMAL through rust_decimal (96 bits): exact up to 28 digits.
_FAST_DECIMAL_PRECISION = 28
_FAST_DECIMAL_SCALE = 10

_SIGNED_INTEGERS: dict[str, pa.DataType] = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "mediumint": pa.int32(),
    "int": pa.int32(),
    "bigint": pa.int64(),
}
# Unsigned values need the next wider type; BIGINT UNSIGNED needs 20 digits.
_UNSIGNED_INTEGERS: dict[str, pa.DataType] = {
    "tinyint": pa.int16(),
    "smallint": pa.int32(),
    "mediumint": pa.int32(),
    "int": pa.int64(),
    "bigint": pa.decimal128(20, 0),
}
_OTHER_TYPES: dict[str, pa.DataType] = {
    "float": pa.float32(),
    "double": pa.float64(),
    "real": pa.float64(),
    "year": pa.int16(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "char": pa.string(),
    "varchar": pa.string(),
    "tinytext": pa.string(),
    "text": pa.string(),
    "mediumtext": pa.string(),
    "longtext": pa.string(),
    "enum": pa.string(),
    "set": pa.string(),
    "json": pa.string(),
    "binary": pa.binary(),
    "varbinary": pa.binary(),
    "tinyblob": pa.binary(),
    "blob": pa.binary(),
    "mediumblob": pa.binary(),
    "longblob": pa.binary(),
}
_SPATIAL_TYPES = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "geomcollection",
    }
)
_DATE_TYPES = frozenset({"date", "datetime", "timestamp"})
_DELTA_KINDS = {
    "datetime": DeltaKind.TIMESTAMP,
    "timestamp": DeltaKind.TIMESTAMPTZ,
    "date": DeltaKind.DATE,
}


def quote_identifier(name: str) -> str:
    """`name` as a backtick-quoted MySQL identifier (valid whatever the sql_mode)."""
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class MysqlColumn:
    """A reflected column: its type decides its Arrow type and how it is selected."""

    name: str
    data_type: str  # information_schema DATA_TYPE, lower case: 'decimal', 'tinyint', ...
    column_type: str  # the full type: 'decimal(12,2)', 'tinyint(1)', 'bigint(20) unsigned'
    precision: int | None = None
    scale: int | None = None

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.column_type

    @property
    def is_bool(self) -> bool:
        """TINYINT(1) is MySQL's BOOLEAN; BIT(1) a single flag."""
        kind = self.column_type.replace(" ", "")
        return kind == "tinyint(1)" or kind == "bit(1)"

    @property
    def delta_kind(self) -> DeltaKind | None:
        if self.data_type in _SIGNED_INTEGERS:
            return None if self.is_bool else DeltaKind.EPOCH
        return _DELTA_KINDS.get(self.data_type)

    @property
    def _bit_width(self) -> int:
        digits = "".join(ch for ch in self.column_type if ch.isdigit())
        return int(digits) if digits else 1

    @property
    def _fast_decimal(self) -> bool:
        return (self.precision or 0) <= _FAST_DECIMAL_PRECISION and (
            self.scale or 0
        ) <= _FAST_DECIMAL_SCALE

    @property
    def arrow_type(self) -> pa.DataType:
        if self.is_bool:
            return pa.bool_()
        if self.data_type in _SIGNED_INTEGERS:
            table = _UNSIGNED_INTEGERS if self.unsigned else _SIGNED_INTEGERS
            return table[self.data_type]
        if self.data_type == "decimal":
            precision, scale = self.precision or 10, self.scale or 0
            return pa.decimal128(precision, scale) if precision <= 38 else pa.string()
        if self.data_type == "bit":
            return pa.int64() if self._bit_width < 64 else pa.decimal128(20, 0)
        return _OTHER_TYPES.get(self.data_type, pa.string())

    @property
    def select_expression(self) -> str:
        """The SQL reading this column as a value both read paths decode exactly."""
        column = quote_identifier(self.name)
        if self.data_type in _DATE_TYPES:
            return f"IF(MONTH({column}) = 0 OR DAYOFMONTH({column}) = 0, NULL, {column})"
        if self.data_type == "decimal" and not self._fast_decimal:
            return f"CAST({column} AS CHAR)"
        if self.data_type == "bit":
            return f"({column} + 0)"
        if self.data_type in _SPATIAL_TYPES:
            return f"ST_AsText({column})"
        if (
            self.data_type in _SIGNED_INTEGERS
            or self.data_type in _OTHER_TYPES
            or self.data_type == "decimal"
        ):
            return column
        return f"CAST({column} AS CHAR)"  # time, uuid, inet6, ...: their text form

    @property
    def cursor_type(self) -> pa.DataType:
        """The Arrow type the pymysql cursor's Python values are first built as."""
        if self.data_type in _SIGNED_INTEGERS or self.data_type in ("year", "bit"):
            unsigned_wide = self.data_type == "bit" or (
                self.unsigned and self.data_type == "bigint"
            )
            return pa.uint64() if unsigned_wide else pa.int64()
        if self.data_type in ("float", "double", "real"):
            return pa.float64()
        if self.data_type in _DATE_TYPES:
            return pa.timestamp("us") if self.data_type != "date" else pa.date32()
        target = self.arrow_type
        if pa.types.is_decimal(target) and not self._fast_decimal:
            return pa.string()
        return target


@dataclass(frozen=True)
class MysqlTable(ReflectedTable[MysqlColumn]):
    """A reflected table (or view): its database, its stored name and its columns in order."""

    database: str
    name: str
    columns: tuple[MysqlColumn, ...]

    @property
    def quoted_name(self) -> str:
        return f"{quote_identifier(self.database)}.{quote_identifier(self.name)}"

    @property
    def cursor_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.cursor_type) for c in self.columns])


def parse_table_name(table_name: str) -> tuple[str, str]:
    """(database or '', table): `database.table` or `table`, each part taken literally."""
    database, dot, table = table_name.partition(".")
    return (database, table) if dot else ("", table_name)


def table_from_rows(rows: Sequence[Sequence[Any]], table: str) -> MysqlTable | None:
    """The table described by the rows of REFLECT_SQL: the one named exactly `table`, else
    the only one equal to it ignoring case; None when there is none (or no single one)."""
    names = {(str(row[0]), str(row[1])) for row in rows}
    exact = [n for n in names if n[1] == table]
    chosen = exact if exact else list(names)
    if len(chosen) != 1:
        return None
    database, name = chosen[0]
    columns = tuple(
        MysqlColumn(
            name=str(row[2]),
            data_type=str(row[3]).lower(),
            column_type=str(row[4]).lower(),
            precision=None if row[5] is None else int(row[5]),
            scale=None if row[6] is None else int(row[6]),
        )
        for row in rows
        if (str(row[0]), str(row[1])) == (database, name)
    )
    return MysqlTable(database=database, name=name, columns=columns)


def bound_literal(kind: DeltaKind, bound: Bound) -> str:
    """A window bound as a typed SQL literal built from the Python value, never from text a
    user wrote (connectorx takes no bound parameters). TIMESTAMP bounds are UTC, matching the
    UTC session the reader sets."""
    if kind is DeltaKind.EPOCH:
        assert isinstance(bound, int)
        return str(int(bound))
    if kind is DeltaKind.DATE:
        assert isinstance(bound, date) and not isinstance(bound, datetime)
        return f"DATE'{bound.year:04d}-{bound.month:02d}-{bound.day:02d}'"
    assert isinstance(bound, datetime)
    return (
        f"TIMESTAMP'{bound.year:04d}-{bound.month:02d}-{bound.day:02d}"
        f" {bound.hour:02d}:{bound.minute:02d}:{bound.second:02d}.{bound.microsecond:06d}'"
    )
