"""PostgreSQL's catalog as Sluice reads it: reflected tables and columns, and how each column
type is selected and lands in Arrow (types preserved; anything exotic read as text)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from sluice.connectors.batching import quote_identifier
from sluice.connectors.postgresql import numeric
from sluice.connectors.tables.reflection import ReflectedTable
from sluice.connectors.tables.windowing import Bound, DeltaKind

# Base types read as their own Arrow type; any other type (uuid, json, interval, arrays,
# enums, ...) is read as its PostgreSQL text form.
_NATIVE_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "bytea": pa.binary(),
}
_DELTA_KINDS = {
    "timestamptz": DeltaKind.TIMESTAMPTZ,
    "timestamp": DeltaKind.TIMESTAMP,
    "date": DeltaKind.DATE,
    "int2": DeltaKind.EPOCH,
    "int4": DeltaKind.EPOCH,
    "int8": DeltaKind.EPOCH,
}
# Unconstrained `numeric` is read as decimal(38, 18) (as Spark does), rounded by the server.
UNCONSTRAINED_NUMERIC = pa.decimal128(38, 18)

# The table named `$1` in schema `$2`, or in the search path when `$2` is ''; its columns.
REFLECT_SQL = """
WITH rel AS (
    SELECT c.oid, n.nspname, c.relname
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = $1
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND (n.nspname = $2 OR ($2 = '' AND n.nspname = ANY (pg_catalog.current_schemas(false))))
    ORDER BY pg_catalog.array_position(pg_catalog.current_schemas(false), n.nspname)
    LIMIT 1
)
SELECT rel.nspname::text, rel.relname::text, a.attname::text,
       COALESCE(base.typname, t.typname)::text,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       t.typtype = 'd'
FROM rel
LEFT JOIN pg_catalog.pg_attribute a
       ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type base ON t.typtype = 'd' AND base.oid = t.typbasetype
ORDER BY a.attnum
"""


@dataclass(frozen=True)
class PgColumn:
    """A reflected column: its base type decides its Arrow type and how it is selected."""

    name: str
    base_type: str
    typmod: int
    display_type: str
    is_domain: bool

    @property
    def delta_kind(self) -> DeltaKind | None:
        return _DELTA_KINDS.get(self.base_type)

    @property
    def arrow_type(self) -> pa.DataType:
        if self.base_type == "numeric":
            return _numeric_type(self.typmod) or pa.string()
        return _NATIVE_TYPES.get(self.base_type, pa.string())

    @property
    def is_decimal(self) -> bool:
        """A numeric that lands as a decimal (one too wide for Arrow lands as text)."""
        return self.base_type == "numeric" and pa.types.is_decimal128(self.arrow_type)

    @property
    def select_expression(self) -> str:
        column = quote_identifier(self.name)
        if self.base_type == "numeric":
            return numeric.select_expression(
                column, _numeric_type(self.typmod), constrained=self.typmod >= 0
            )
        if self.base_type not in _NATIVE_TYPES:
            return f"{column}::pg_catalog.text"
        if self.is_domain:
            return f"{column}::pg_catalog.{quote_identifier(self.base_type)}"
        return column


def _numeric_type(typmod: int) -> pa.DataType | None:
    """decimal128(p, s) for numeric's typmod; None when Arrow's decimal128 cannot hold it."""
    if typmod < 0:
        return UNCONSTRAINED_NUMERIC
    precision = ((typmod - 4) >> 16) & 0xFFFF
    scale = (typmod - 4) & 0x7FF
    if scale & 0x400:  # PostgreSQL 15+ allows a negative scale
        return None
    if 1 <= precision <= 38 and scale <= precision:
        return pa.decimal128(precision, scale)
    return None


@dataclass(frozen=True)
class PgTable(ReflectedTable[PgColumn]):
    """A reflected table (or view): its real schema and name, and its columns in order."""

    schema_name: str
    name: str
    columns: tuple[PgColumn, ...]

    @property
    def quoted_name(self) -> str:
        return f"{quote_identifier(self.schema_name)}.{quote_identifier(self.name)}"


def parse_table_name(table_name: str) -> tuple[str, str]:
    """(schema or '', table): `schema.table` or `table`, each part taken literally."""
    schema, dot, table = table_name.partition(".")
    return (schema, table) if dot else ("", table_name)


def table_from_rows(rows: Sequence[Sequence[Any]]) -> PgTable | None:
    """The table described by the rows of REFLECT_SQL, or None when there are none."""
    if not rows:
        return None
    columns = tuple(
        PgColumn(
            name=row[2],
            base_type=row[3],
            typmod=int(row[4]),
            display_type=row[5],
            is_domain=bool(row[6]),
        )
        for row in rows
        if row[2] is not None
    )
    return PgTable(schema_name=rows[0][0], name=rows[0][1], columns=columns)


# What explore lists: the schemas a user can see (not PostgreSQL's own, nor temporary ones),
# and the tables, views and foreign tables of one schema (partitions only via their parent).
# psycopg placeholders (`%s`, so a literal `%` is `%%`); names and the row cap are bound.
LIST_SCHEMAS_SQL = """
SELECT n.nspname::text
FROM pg_catalog.pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
  AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
  AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
ORDER BY n.nspname
LIMIT %s
"""
SCHEMA_EXISTS_SQL = "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s"
LIST_TABLES_SQL = """
SELECT c.relname::text, c.relkind::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition
ORDER BY c.relname
LIMIT %s
"""


_BOUND_TYPES = {
    DeltaKind.TIMESTAMPTZ: "pg_catalog.timestamptz",
    DeltaKind.TIMESTAMP: "pg_catalog.timestamp",
    DeltaKind.DATE: "pg_catalog.date",
    DeltaKind.EPOCH: "pg_catalog.int8",
}


def bound_literal(kind: DeltaKind, bound: Bound) -> str:
    """A window bound as a typed SQL literal, written digit by digit from the Python value
    (the read query takes no parameters, see `reader`): a timestamptz bound in UTC, a
    timestamp bound as the wall-clock time it is, to the microsecond."""
    if kind is DeltaKind.EPOCH:
        if not isinstance(bound, int) or isinstance(bound, bool):
            raise TypeError(f"an epoch bound must be an integer, not {bound!r}")
        text = f"{bound:d}"
    elif kind is DeltaKind.DATE:
        if not isinstance(bound, date) or isinstance(bound, datetime):
            raise TypeError(f"a date bound must be a date, not {bound!r}")
        text = f"{bound.year:04d}-{bound.month:02d}-{bound.day:02d}"
    else:
        if not isinstance(bound, datetime) or (bound.tzinfo is None) != (
            kind is DeltaKind.TIMESTAMP
        ):
            raise TypeError(f"a {kind} bound must be a matching datetime, not {bound!r}")
        if kind is DeltaKind.TIMESTAMPTZ:
            bound = bound.astimezone(UTC)
        text = (
            f"{bound.year:04d}-{bound.month:02d}-{bound.day:02d} {bound.hour:02d}:"
            f"{bound.minute:02d}:{bound.second:02d}.{bound.microsecond:06d}"
        ) + ("+00" if kind is DeltaKind.TIMESTAMPTZ else "")
    return f"'{text}'::{_BOUND_TYPES[kind]}"
