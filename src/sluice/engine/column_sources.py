"""Where a mapped column's values come from in a source batch.

A source column, a path through struct columns, a JSON path into JSON text, or a constant.
Each is resolved once against the source schema (so a missing column or field is known before
any data moves) and then extracts values from every batch of that schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from sluice.domain.mapping_sets import Segment, SourcePath
from sluice.domain.type_changes import is_text


@dataclass
class Extracted:
    values: pa.Array
    # Rows whose value could not be read at all (invalid JSON), with the reason.
    failures: dict[int, str] = field(default_factory=dict)


class ColumnSource(Protocol):
    @property
    def value_type(self) -> pa.DataType: ...

    def extract(self, batch: pa.RecordBatch) -> Extracted: ...


class UnresolvedSourceError(ValueError):
    """The source has no such column, or the path does not lead anywhere in its schema."""


def find_field(fields: list[pa.Field], name: str) -> int | None:
    """The field called `name` exactly, else the only one called so ignoring case."""
    for index, candidate in enumerate(fields):
        if candidate.name == name:
            return index
    folded = [i for i, f in enumerate(fields) if f.name.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


@dataclass(frozen=True)
class SourceColumn:
    index: int
    value_type: pa.DataType

    def extract(self, batch: pa.RecordBatch) -> Extracted:
        return Extracted(batch.column(self.index))


@dataclass(frozen=True)
class StructPath:
    """A field inside struct columns (`customer.address.city`), null where a parent is."""

    index: int
    field_indexes: tuple[int, ...]
    value_type: pa.DataType

    def extract(self, batch: pa.RecordBatch) -> Extracted:
        return Extracted(pc.struct_field(batch.column(self.index), list(self.field_indexes)))


def _walk(document: Any, steps: tuple[Segment, ...]) -> Any:
    """The value at `steps` in a parsed JSON document; None when any step is missing."""
    value = document
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
    return value


def _as_text(value: Any) -> str | None:
    """A JSON value as text: strings as they are, other values as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class JsonPath:
    """A value inside a column of JSON text; text to be cast like any other text."""

    index: int
    steps: tuple[Segment, ...]
    column: str

    @property
    def value_type(self) -> pa.DataType:
        return pa.string()

    def extract(self, batch: pa.RecordBatch) -> Extracted:
        texts: list[str | None] = []
        failures: dict[int, str] = {}
        for position, raw in enumerate(batch.column(self.index).to_pylist()):
            if raw is None:
                texts.append(None)
                continue
            try:
                document = json.loads(raw)
            except (ValueError, TypeError) as error:
                failures[position] = f"column '{self.column}' is not valid JSON: {error}"
                texts.append(None)
                continue
            texts.append(_as_text(_walk(document, self.steps)))
        return Extracted(pa.array(texts, pa.string()), failures)


@dataclass(frozen=True)
class Constant:
    value: pa.Scalar

    @property
    def value_type(self) -> pa.DataType:
        return self.value.type

    def extract(self, batch: pa.RecordBatch) -> Extracted:
        return Extracted(pa.repeat(self.value, batch.num_rows))


def _struct_path(schema: pa.Schema, index: int, path: SourcePath) -> StructPath:
    kind = schema.field(index).type
    indexes: list[int] = []
    for step in path.steps:
        if not pa.types.is_struct(kind):
            raise UnresolvedSourceError(
                f"'{path.text}': '{step}' is not a field of a struct (the value there is {kind})"
            )
        fields = [kind.field(i) for i in range(kind.num_fields)]
        found = find_field(fields, str(step))
        if found is None:
            raise UnresolvedSourceError(
                f"'{path.text}': the struct has no field '{step}' (it has "
                f"{', '.join(f.name for f in fields)})"
            )
        indexes.append(found)
        kind = fields[found].type
    return StructPath(index, tuple(indexes), kind)


def resolve_path(schema: pa.Schema, path: SourcePath) -> ColumnSource:
    """The column source `path` names in `schema`; UnresolvedSourceError when there is none.

    A source column literally named like the whole path (`customer.name`) wins over a path.
    """
    fields = list(schema)
    whole = find_field(fields, path.text)
    if whole is not None and not path.json:
        return SourceColumn(whole, fields[whole].type)
    index = find_field(fields, path.column)
    if index is None:
        raise UnresolvedSourceError(f"the source has no column '{path.column}'")
    kind = fields[index].type
    if path.json:
        if not is_text(kind):
            raise UnresolvedSourceError(
                f"'{path.text}': column '{path.column}' holds {kind}, not JSON text; use a "
                "dotted path for struct columns"
            )
        return JsonPath(index, path.steps, fields[index].name)
    if not path.steps:
        return SourceColumn(index, kind)
    return _struct_path(schema, index, path)
