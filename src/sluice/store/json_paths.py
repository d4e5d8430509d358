"""Dialect-specific SQL for reading inside the `doc` JSON column (SQLite and PostgreSQL).

Filters on nested wire fields run in the database, not in Python after loading everything.
Path segments are validated identifiers and always travel as bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, Numeric, String, Text, case, cast, exists, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

# What counts as a number, JSON number or numeric string alike, with the same answer on both
# databases (\A and \Z mean the same to Python's `re` and PostgreSQL). Bounded, so a cast
# can never overflow.
_NUMBER_PATTERN = r"\A-?[0-9]{1,100}(\.[0-9]{1,100})?([eE][-+]?[0-9]{1,2})?\Z"

Json = ColumnElement[Any] | InstrumentedAttribute[Any]
# Builds a condition on one JSON value: (reader, value, path inside the value) -> condition.
JsonPredicate = Callable[["JsonReader", Json, Sequence[str]], ColumnElement[bool]]


def _pg_path(segments: Sequence[str]) -> ColumnElement[Any]:
    return literal(list(segments), ARRAY(Text))


def _sqlite_path(segments: Sequence[str]) -> str:
    return "$" + "".join(f'."{s}"' for s in segments)


class JsonReader:
    """Builds text and number views of a JSON value for one SQL dialect."""

    def __init__(self, dialect: str) -> None:
        self.is_postgresql = dialect == "postgresql"

    def text(self, document: Json, segments: Sequence[str]) -> ColumnElement[str]:
        """The value as text; booleans read 'true'/'false' on both databases."""
        if self.is_postgresql:
            return document.op("#>>", return_type=String)(_pg_path(segments))
        path = literal(_sqlite_path(segments))
        kind = func.json_type(document, path)
        return case(
            (kind.in_(["true", "false"]), kind),
            else_=cast(func.json_extract(document, path), String),
        )

    def number(self, document: Json, segments: Sequence[str]) -> ColumnElement[Any]:
        """The value as a number, NULL when it is not numeric (never an SQL error)."""
        as_text = self.text(document, segments)
        # SQLAlchemy registers REGEXP (Python's re.search) on every SQLite connection.
        numeric = as_text.regexp_match(_NUMBER_PATTERN)
        return case((numeric, cast(as_text, Numeric if self.is_postgresql else Float)), else_=None)

    def number_param(self, value: str) -> Decimal | float:
        """A filter's numeric value, typed to compare exactly with `number`."""
        return Decimal(value) if self.is_postgresql else float(value)

    def any_element(
        self,
        document: Json,
        array_segments: Sequence[str],
        element_segments: Sequence[str],
        predicate: JsonPredicate,
    ) -> ColumnElement[bool]:
        """EXISTS an element of the array at `array_segments` for which `predicate` holds."""
        if self.is_postgresql:
            array = document.op("#>", return_type=JSONB)(_pg_path(array_segments))
            safe_array = case(
                (func.jsonb_typeof(array) == "array", array), else_=cast(literal("[]"), JSONB)
            )
            elements = func.jsonb_array_elements(safe_array).table_valued("value")
        else:
            elements = func.json_each(document, literal(_sqlite_path(array_segments))).table_valued(
                "value", "type"
            )
        value: Json = elements.c.value
        if not self.is_postgresql and not element_segments:
            # json_each yields scalars as bare SQL values; quote them back into JSON.
            value = func.json_quote(value)
        condition = predicate(self, value, element_segments)
        return exists(select(literal(1)).select_from(elements).where(condition))
