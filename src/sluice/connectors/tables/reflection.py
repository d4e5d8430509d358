"""What the table readers (PostgreSQL, MySQL, SQLite, SQLAlchemy) share: the table a source
names, reflected tables and their columns, and the checks of a delta column."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import pyarrow as pa

from sluice.connectors.contract import DeltaColumnChecker
from sluice.connectors.errors import SourceMissingError
from sluice.connectors.read_base import Closable
from sluice.connectors.reading import ReadRequest
from sluice.connectors.tables.windowing import Bounds, DeltaKind, WindowedColumn, select_window
from sluice.domain.errors import bad_request


def table_name_of(source: Mapping[str, Any]) -> str:
    """The `tableName` of a source connection's params, as the user wrote it."""
    return str(source.get("params", {}).get("tableName", ""))


class TableColumn(WindowedColumn, Protocol):
    @property
    def arrow_type(self) -> pa.DataType: ...


TableColumnT = TypeVar("TableColumnT", bound=TableColumn)
T = TypeVar("T")
SessionT = TypeVar("SessionT", bound=Closable)


class ReflectedTable(Generic[TableColumnT]):
    """A reflected table's columns as every reader looks them up and reads them."""

    columns: tuple[TableColumnT, ...]

    def column(self, name: str) -> TableColumnT | None:
        """The column named exactly `name`, else the only one equal to it ignoring case (a
        request may say `DOB` for an unquoted PostgreSQL column stored as `dob`)."""
        exact = next((c for c in self.columns if c.name == name), None)
        if exact is not None:
            return exact
        folded = [c for c in self.columns if c.name.casefold() == name.casefold()]
        return folded[0] if len(folded) == 1 else None

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])


def existing_table(table_name: str, table: T | None) -> T:
    """`table`; a terminal SourceReadError when reflection found no such table."""
    if table is None:
        raise SourceMissingError(f'Table "{table_name}" does not exist.')
    return table


@dataclass(frozen=True)
class DeltaTypes:
    """The column types a database can select a window with, as its messages name them."""

    # E.g. "timestamptz, timestamp, date or integer (epoch seconds)".
    accepted: str
    # How a message names a reflected column's type.
    type_of: Callable[[Any], str]

    def problem(self, table_name: str, table: ReflectedTable[Any], column: str) -> str | None:
        """Why `column` cannot select a window of the table (missing, or of another type);
        None when it can."""
        found = table.column(column)
        if found is None:
            names = ", ".join(c.name for c in table.columns)
            return f'column "{column}" does not exist in table "{table_name}"; columns are {names}'
        if found.delta_kind is None:
            return (
                f'column "{found.name}" of table "{table_name}" has type {self.type_of(found)},'
                f" which cannot select a window; use a {self.accepted} column"
            )
        return None

    def select(
        self, table_name: str, table: ReflectedTable[TableColumnT], request: ReadRequest
    ) -> tuple[TableColumnT, DeltaKind, Bounds] | None:
        """The delta column, its kind and the bounds of the request's window; None for a full
        read (see `select_window`)."""
        return select_window(
            table_name, request, table.column, lambda name: self.problem(table_name, table, name)
        )

    def require(self, table_name: str, table: ReflectedTable[Any] | None, column: str) -> None:
        """BadRequestError (1000) when the table is missing or `column` cannot window it."""
        if table is None:
            raise bad_request(1000, f'table "{table_name}" does not exist')
        problem = self.problem(table_name, table, column)
        if problem is not None:
            raise bad_request(1000, problem)


def delta_column_checker(
    connect: Callable[[Any, Mapping[str, Any]], SessionT],
    reflect: Callable[[SessionT, str], ReflectedTable[Any] | None],
    delta_types: DeltaTypes,
) -> DeltaColumnChecker:
    """A table reader's `check_delta_column`: reflect the source's table on a session of its
    own, closed at once, and check the column."""

    def check_delta_column(
        context: Any, auth: Mapping[str, Any], source: Mapping[str, Any], column: str
    ) -> None:
        """Raise BadRequestError (1000) unless `column` exists and can select a window."""
        table_name = table_name_of(source)
        with contextlib.closing(connect(context, auth)) as session:
            table = reflect(session, table_name)
        delta_types.require(table_name, table, column)

    return check_delta_column
