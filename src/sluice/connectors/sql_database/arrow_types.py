"""How a column reflected by SQLAlchemy lands in Arrow: its type, whether it can select a
window, and how a batch of its Python values becomes an Arrow array.

Types are preserved (Numeric(p, s) as decimal128(p, s), DateTime with or without its zone,
Date, Boolean, the integer kinds, Float, String / Text, LargeBinary); a type without an Arrow
counterpart (UUID, JSON, intervals, arrays, ...) is read as text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.sql import sqltypes

from sluice.connectors.tables.windowing import DeltaKind

# Unconstrained NUMERIC is read as decimal(38, 18), as the PostgreSQL reader does.
UNCONSTRAINED_NUMERIC = pa.decimal128(38, 18)

Converter = Callable[[Sequence[Any]], pa.Array]


@dataclass(frozen=True)
class SaColumn:
    """A reflected column: its name, Arrow type, delta kind and value converter."""

    name: str
    type_name: str
    arrow_type: pa.DataType
    delta_kind: DeltaKind | None
    convert: Converter
    # Read the driver's own value, not SQLAlchemy's processed one (which for MySQL TIME
    # wraps durations into a time of day).
    raw: bool = False


def column_of(column: sa.Column[Any], dialect: str) -> SaColumn:
    """What Sluice reads a reflected column as, for a database of `dialect` ('postgresql',
    'mysql', 'mariadb' or 'sqlite')."""
    arrow_type, kind = _arrow_type(column.type, dialect)
    return SaColumn(
        name=str(column.name),
        type_name=_type_name(column.type),
        arrow_type=arrow_type,
        delta_kind=kind,
        convert=_converter(arrow_type),
        raw=pa.types.is_string(arrow_type) and not isinstance(column.type, sqltypes.String),
    )


def _type_name(type_: Any) -> str:
    try:
        return str(type_.compile())
    except Exception:  # a type that needs a dialect to render: its class name will do
        return type(type_).__name__.upper()


def _arrow_type(type_: Any, dialect: str) -> tuple[pa.DataType, DeltaKind | None]:
    on_mysql = dialect in ("mysql", "mariadb")
    if isinstance(type_, sqltypes.Boolean):
        return pa.bool_(), None
    if isinstance(type_, mysql.BIT):
        length = type_.length or 1
        if length == 1:
            return pa.bool_(), None
        return (pa.int64() if length < 64 else pa.decimal128(20, 0)), None
    if isinstance(type_, sqltypes.Integer):
        return _integer_type(type_, dialect)
    if isinstance(type_, mysql.YEAR):
        return pa.int16(), None
    if isinstance(type_, sqltypes.Float):
        single = isinstance(type_, mysql.FLOAT) or (
            isinstance(type_, sqltypes.REAL) and dialect != "sqlite"  # SQLite REAL is 8 bytes
        )
        return (pa.float32() if single else pa.float64()), None
    if isinstance(type_, sqltypes.Numeric):
        return _decimal_type(type_.precision, type_.scale), None
    if isinstance(type_, sqltypes.DateTime):
        # MySQL TIMESTAMP is stored in UTC; the session reads it in UTC.
        if type_.timezone or (on_mysql and isinstance(type_, sqltypes.TIMESTAMP)):
            return pa.timestamp("us", tz="UTC"), DeltaKind.TIMESTAMPTZ
        return pa.timestamp("us"), DeltaKind.TIMESTAMP
    if isinstance(type_, sqltypes.Date):
        return pa.date32(), DeltaKind.DATE
    if isinstance(type_, sqltypes._Binary):
        return pa.binary(), None
    return pa.string(), None  # String, Text, Enum, and anything without an Arrow counterpart


def _integer_type(type_: Any, dialect: str) -> tuple[pa.DataType, DeltaKind | None]:
    if isinstance(type_, mysql.TINYINT) and type_.display_width == 1 and not type_.unsigned:
        return pa.bool_(), None  # MySQL's BOOLEAN
    unsigned = bool(getattr(type_, "unsigned", False))
    if isinstance(type_, mysql.TINYINT):
        arrow_type = pa.int16() if unsigned else pa.int8()
    elif isinstance(type_, sqltypes.SmallInteger):
        arrow_type = pa.int32() if unsigned else pa.int16()
    elif isinstance(type_, sqltypes.BigInteger):
        arrow_type = pa.decimal128(20, 0) if unsigned else pa.int64()
    elif dialect == "sqlite" or unsigned:
        arrow_type = pa.int64()  # SQLite INTEGER holds 64 bits
    else:
        arrow_type = pa.int32()  # INTEGER, MEDIUMINT
    return arrow_type, DeltaKind.EPOCH


def _decimal_type(precision: int | None, scale: int | None) -> pa.DataType:
    if precision is None:
        return UNCONSTRAINED_NUMERIC
    scale = scale or 0
    if 1 <= precision <= 38 and 0 <= scale <= precision:
        return pa.decimal128(precision, scale)
    return pa.string()


def _converter(arrow_type: pa.DataType) -> Converter:
    if pa.types.is_boolean(arrow_type):
        return lambda values: pa.array([_maybe(bool, v) for v in values], type=arrow_type)
    if pa.types.is_floating(arrow_type):
        return lambda values: pa.array([_maybe(float, v) for v in values], type=arrow_type)
    if pa.types.is_decimal(arrow_type):
        return lambda values: pa.array([_decimal(v) for v in values], type=arrow_type)
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        # pymysql leaves MySQL's zero dates ('0000-00-00') as text: they are no date.
        return lambda values: pa.array(
            [None if isinstance(v, str) else v for v in values], type=arrow_type
        )
    if pa.types.is_string(arrow_type):
        return lambda values: pa.array([_text(v) for v in values], type=arrow_type)
    if pa.types.is_binary(arrow_type):
        return lambda values: pa.array([_maybe(bytes, v) for v in values], type=arrow_type)
    return lambda values: pa.array(values, type=arrow_type)


def _maybe(convert: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else convert(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))  # ints (BIGINT UNSIGNED), or SQLite's floats


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, timedelta):  # MySQL TIME: a signed duration, -838:59:59 .. 838:59:59
        return _duration(value)
    if isinstance(value, time):
        return value.isoformat()
    return str(value)


def _duration(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    micros = abs(value) // timedelta(microseconds=1)
    seconds, micro = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{micro:06d}" if micro else text
