"""Selecting a table read's window: its delta column, its kind and the window's bounds.

The bounds themselves are `domain.windows.window_bounds`, the rule the lake's
`replaceWindow` predicates use too, so extraction and replacement select the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sluice.connectors.errors import TerminalReadError
from sluice.connectors.reading import ReadRequest
from sluice.domain.windows import (
    Bound,
    Bounds,
    DeltaKind,
    local_midnight,
    window_bounds,
    zone,
)

__all__ = [
    "Bound",
    "Bounds",
    "DeltaKind",
    "WindowedColumn",
    "local_midnight",
    "select_window",
    "window_bounds",
    "window_where",
    "zone",
]


class WindowedColumn(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def delta_kind(self) -> DeltaKind | None: ...


ColumnT = TypeVar("ColumnT", bound=WindowedColumn)


def select_window(
    table_name: str,
    request: ReadRequest,
    find: Callable[[str], ColumnT | None],
    problem: Callable[[str], str | None],
) -> tuple[ColumnT, DeltaKind, Bounds] | None:
    """The delta column, its kind and the bounds a read's window selects; None for a full read.

    Raises a terminal SourceReadError when the window cannot be applied (no delta column, a
    column that disappeared or changed type since the run was created, a bad time zone).
    """
    if request.window is None:
        return None
    if request.delta_column is None:
        raise TerminalReadError(f'A window of table "{table_name}" needs a delta column.')
    found = problem(request.delta_column)
    if found is not None:
        raise TerminalReadError(found[0].upper() + found[1:] + ".")
    column = find(request.delta_column)
    assert column is not None and column.delta_kind is not None
    try:
        bounds = window_bounds(column.delta_kind, request.window, request.timezone)
    except ValueError as error:
        raise TerminalReadError(f"Cannot read the window: {error}.") from None
    return column, column.delta_kind, bounds


def window_where(value: str, lower: str | None, upper: str | None) -> str:
    """` WHERE ...` keeping the rows whose `value` is set and lies in `[lower, upper)`, both
    SQL expressions; a None side is left open."""
    conditions = [f"{value} IS NOT NULL"]
    if lower is not None:
        conditions.append(f"{value} >= {lower}")
    if upper is not None:
        conditions.append(f"{value} < {upper}")
    return " WHERE " + " AND ".join(conditions)
