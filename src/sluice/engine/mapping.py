"""The map stage: produce each batch in the dataset's columns and types.

Without a mapping set, source columns map by name (exactly, else ignoring case). With one,
each destination column comes from its mapping: a source column, a struct path, a JSON path
or a constant, cast to the mapping's destination type, then to the dataset column's type,
nulls replaced by the mapping's default. A dataset column nothing maps to is null.

A value that does not cast makes its row a bad row: the row is left out of the batch and
reported with its reason, so the run can decide whether the failed share is acceptable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.reading import BadRow
from sluice.domain.casting import CAST_ERRORS, cast_scalar, cast_values
from sluice.domain.mapping_sets import MappingRule
from sluice.engine.column_sources import (
    ColumnSource,
    Constant,
    SourceColumn,
    UnresolvedSourceError,
    find_field,
    resolve_path,
)
from sluice.lake.schema import SYSTEM_COLUMN_NAMES, arrow_type

MAPPING_FAILED = "CONNECTOR-2004-400"


class MappingError(ValueError):
    """The mapping set cannot be applied to this source and dataset (nothing was written)."""


@dataclass(frozen=True)
class MappedColumn:
    """One incoming column: its name, where its values come from, how they are cast."""

    name: str
    source: ColumnSource
    cast_to: pa.DataType | None = None  # the mapping's destinationType
    # False when values are text to parse (CSV fields, JSON values): a type change is then
    # checked value by value and is never a lossy schema change.
    typed: bool = True
    default: Any = None
    has_default: bool = False

    @property
    def field(self) -> pa.Field:
        return pa.field(self.name, self.cast_to or self.source.value_type)


def by_name(
    schema: pa.Schema, *, typed: bool = True, skip: Sequence[str] = ()
) -> list[MappedColumn]:
    """Every source column under its own name (system and `skip` columns left out)."""
    excluded = SYSTEM_COLUMN_NAMES | set(skip)
    return [
        MappedColumn(f.name, SourceColumn(i, f.type), typed=typed)
        for i, f in enumerate(schema)
        if f.name not in excluded
    ]


def _inferred_type(value: Any) -> pa.DataType:
    return pa.array([value]).type


def _constant(value: Any, kind: pa.DataType, rule: MappingRule) -> Constant:
    try:
        return Constant(cast_scalar(value, kind))
    except ValueError as error:
        raise MappingError(f"destination '{rule.destination}': {error}") from None


def from_rules(
    schema: pa.Schema,
    rules: Sequence[MappingRule],
    dataset_type: Callable[[str], pa.DataType | None],
    *,
    typed: bool = True,
) -> list[MappedColumn]:
    """The mapping set's columns, resolved against the source `schema`.

    Raises MappingError when a source column or path is missing and the mapping has no
    default, or when a constant or default does not fit its column's type.
    """
    columns = []
    for rule in rules:
        cast_to = arrow_type(rule.destination_type) if rule.destination_type else None
        declared = cast_to or dataset_type(rule.destination)
        source: ColumnSource
        column_typed = typed
        if rule.path is None:
            kind = declared or _inferred_type(rule.constant)
            source, column_typed = _constant(rule.constant, kind, rule), True
        else:
            try:
                source = resolve_path(schema, rule.path)
                column_typed = typed and not rule.path.json
            except UnresolvedSourceError as error:
                if not rule.has_default:
                    raise MappingError(
                        f"destination '{rule.destination}': {error}, and the mapping has no default"
                    ) from None
                kind = declared or _inferred_type(rule.default)
                source, column_typed = _constant(rule.default, kind, rule), True
        columns.append(
            MappedColumn(
                rule.destination,
                source,
                cast_to=cast_to,
                # An explicit destination type is a typed column, whatever the source was.
                typed=column_typed or cast_to is not None,
                default=rule.default,
                has_default=rule.has_default,
            )
        )
    return columns


def incoming_schema(columns: Sequence[MappedColumn]) -> pa.Schema:
    return pa.schema([c.field for c in columns])


@dataclass
class MappedBatch:
    batch: pa.RecordBatch
    bad_rows: list[BadRow]


class BatchMapper:
    """Maps batches of one source schema onto the dataset's columns (`target`).

    `columns` says where each target column comes from; None maps each batch's columns by
    name. Raises MappingError when a default does not fit its column's type.
    """

    def __init__(
        self,
        target: pa.Schema,
        *,
        location_column: str | None = None,
        columns: Sequence[MappedColumn] | None = None,
    ) -> None:
        self.target = target
        self.location_column = location_column
        self._columns = list(columns) if columns is not None else None
        self._defaults: dict[str, pa.Scalar] = {}
        self._resolved: tuple[pa.Schema, list[MappedColumn | None]] | None = None
        for column in self._columns or []:
            index = find_field(list(target), column.name)
            if column.has_default and index is not None:
                field = target.field(index)
                try:
                    self._defaults[field.name] = cast_scalar(column.default, field.type)
                except ValueError as error:
                    raise MappingError(f"default of '{column.name}': {error}") from None

    def _sources(self, schema: pa.Schema) -> list[MappedColumn | None]:
        """Which column feeds each target column (worked out once per source schema)."""
        if self._resolved is not None and self._resolved[0].equals(schema):
            return self._resolved[1]
        columns = self._columns if self._columns is not None else by_name(schema)
        exact = {c.name: c for c in columns}
        folded: dict[str, list[MappedColumn]] = {}
        for column in columns:
            folded.setdefault(column.name.casefold(), []).append(column)
        sources: list[MappedColumn | None] = []
        for field in self.target:
            candidates = folded.get(field.name.casefold(), [])
            unique = candidates[0] if len(candidates) == 1 else None
            sources.append(exact.get(field.name, unique))
        self._resolved = (schema, sources)
        return sources

    def map(self, batch: pa.RecordBatch, first_row: int) -> MappedBatch:
        arrays: list[pa.Array] = []
        bad: dict[int, str] = {}
        for field, column in zip(self.target, self._sources(batch.schema), strict=True):
            if column is None:
                arrays.append(pa.nulls(batch.num_rows, field.type))
                continue
            extracted = column.source.extract(batch)
            for position, reason in extracted.failures.items():
                bad.setdefault(position, reason)
            values = extracted.values
            for kind in (column.cast_to, field.type):
                if kind is not None:
                    values = _cast(values, kind, field.name, bad)
            default = self._defaults.get(field.name)
            if default is not None and values.null_count:
                values = pc.fill_null(values, default)
            arrays.append(values)
        if not bad:
            return MappedBatch(pa.RecordBatch.from_arrays(arrays, schema=self.target), [])
        keep = pa.array([i not in bad for i in range(batch.num_rows)])
        rows = [
            BadRow(
                reason=reason,
                location=self._location(batch, position, first_row),
                raw=_raw(batch, position),
            )
            for position, reason in sorted(bad.items())
        ]
        # The kept rows map cleanly now: map them again on the fast path.
        return MappedBatch(self.map(batch.filter(keep), first_row).batch, rows)

    def _location(self, batch: pa.RecordBatch, position: int, first_row: int) -> str:
        if self.location_column and self.location_column in batch.schema.names:
            source = batch.column(self.location_column)[position].as_py()
            return f"{source}: row {first_row + position + 1}"
        return f"row {first_row + position + 1}"


def _cast(values: pa.Array, kind: pa.DataType, name: str, bad: dict[int, str]) -> pa.Array:
    """`values` as `kind`; rows that do not fit are recorded in `bad` and come back null."""
    if values.type.equals(kind):
        return values
    try:
        return cast_values(values, kind)
    except CAST_ERRORS:
        pass
    # The slow path: value by value (a column may also mix forms that only cast one by one).
    pieces = []
    for position in range(len(values)):
        try:
            pieces.append(cast_values(values.slice(position, 1), kind))
        except CAST_ERRORS as error:
            bad.setdefault(position, f"column '{name}': {str(error).splitlines()[0]}")
            # The batch is mapped again without this row; until then it is null.
            pieces.append(pa.nulls(1, kind))
    return pa.concat_arrays(pieces) if pieces else pa.array([], kind)


def _raw(batch: pa.RecordBatch, position: int) -> str:
    row = batch.slice(position, 1).to_pylist()[0]
    text = ", ".join(f"{k}={v!r}" for k, v in row.items())
    return text[:2000]
