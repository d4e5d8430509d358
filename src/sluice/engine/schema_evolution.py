"""Schema evolution: how a run's incoming columns meet the dataset's columns.

The dataset's columns are its Delta table's, plus catalog-declared columns the table does not
have yet. An incoming column (a source column, or a mapping destination) that matches one by
name (exactly, else ignoring case) is cast to its type: lossless widenings and parsing text
are fine, a change that would lose data fails the run (`CONNECTOR-2003-400`) whatever the
flow says. An incoming column the dataset does not have is added (`addColumns`, the default),
dropped (`frozen`) or fails the run (`fail`: `CONNECTOR-2002-400`). A dataset with no columns
at all yet takes the incoming ones whatever the option: its first run defines it.

Everything here is decided before any data moves, so a refused run writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pyarrow as pa

from sluice.connectors.reading import SOURCE_FILE_COLUMN
from sluice.domain.flow_specs import FAIL_ON_NEW_COLUMNS, FROZEN
from sluice.domain.type_changes import TypeChange, classify, type_name
from sluice.engine.column_sources import find_field
from sluice.lake.schema import SYSTEM_COLUMN_NAMES, SYSTEM_COLUMNS

NEW_COLUMNS_REFUSED = "CONNECTOR-2002-400"
LOSSY_TYPE_CHANGE = "CONNECTOR-2003-400"


class SchemaEvolutionError(Exception):
    """The run must fail before writing: a lossy type change, or new columns under `fail`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Evolution:
    data_schema: pa.Schema  # the columns every mapped batch has, in write order
    write_schema: pa.Schema  # data and system columns, in the table's order
    added: tuple[pa.Field, ...]  # incoming columns the dataset gains
    dropped: tuple[str, ...]  # incoming columns left out (`frozen`)
    merge_schema: bool  # the existing Delta table gains columns with this write


def delta_compatible(field: pa.Field) -> pa.Field:
    """Incoming types Delta cannot store as such become their nearest Delta type."""
    kind = field.type
    if pa.types.is_dictionary(kind):
        return delta_compatible(field.with_type(kind.value_type))
    if pa.types.is_timestamp(kind) and kind.unit != "us":
        return field.with_type(pa.timestamp("us", tz=kind.tz))
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return field.with_type(pa.string())
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return field.with_type(pa.binary())
    if pa.types.is_uint32(kind) or pa.types.is_uint64(kind):
        return field.with_type(pa.int64())
    if pa.types.is_uint8(kind) or pa.types.is_uint16(kind):
        return field.with_type(pa.int32())
    if pa.types.is_null(kind):
        return field.with_type(pa.string())
    return field


def known_columns(table: pa.Schema | None, catalog: pa.Schema | None) -> list[pa.Field]:
    """The dataset's data columns: the table's, then declared ones the table lacks."""
    fields = [f for f in table or [] if f.name not in SYSTEM_COLUMN_NAMES]
    for declared in catalog or []:
        if find_field(fields, declared.name) is None:
            fields.append(declared)
    return fields


def _type_errors(incoming: pa.Schema, known: list[pa.Field], untyped: Collection[str]) -> list[str]:
    errors = []
    for field in incoming:
        index = find_field(known, field.name)
        if index is None or field.name in untyped:
            continue
        verdict = classify(field.type, known[index].type)
        if verdict.change is TypeChange.LOSSY:
            errors.append(
                f"column '{known[index].name}': the source's {type_name(field.type)} "
                f"cannot become the dataset's {type_name(known[index].type)} "
                f"({verdict.reason})"
            )
    return errors


def _write_schema(table: pa.Schema | None, data: list[pa.Field], *, file_source: bool) -> pa.Schema:
    system = [f for f in SYSTEM_COLUMNS if file_source or f.name != SOURCE_FILE_COLUMN]
    if table is None:
        return pa.schema(data + system)
    # Keep the table's own order; columns it gains go last, where Delta's merge puts them.
    fields = list(table)
    fields += [f for f in data if f.name not in table.names]
    fields += [f for f in system if f.name not in table.names]
    return pa.schema(fields)


def evolve(
    incoming: pa.Schema,
    *,
    table: pa.Schema | None,
    catalog: pa.Schema | None,
    option: str,
    untyped: Collection[str] = (),
    file_source: bool = False,
) -> Evolution:
    """Decide the run's write schema, or raise SchemaEvolutionError.

    `table` is the Delta table's full schema (None: no table yet); `catalog` the columns
    the dataset declares (None: none). `untyped` names incoming columns whose values are
    text to parse (CSV fields, JSON values), never a lossy type change.
    """
    known = known_columns(table, catalog)
    errors = _type_errors(incoming, known, untyped)
    if errors:
        raise SchemaEvolutionError(
            LOSSY_TYPE_CHANGE,
            "Type changes that would lose data; nothing was written: "
            + "; ".join(errors)
            + ". Change the dataset's column type, or cast the source column in a mapping set.",
        )
    new = [
        delta_compatible(f).with_nullable(True)
        for f in incoming
        if find_field(known, f.name) is None
    ]
    added: list[pa.Field] = []
    dropped: list[str] = []
    if not known:
        added = new
    elif new and option == FAIL_ON_NEW_COLUMNS:
        names = ", ".join(f"'{f.name}' ({type_name(f.type)})" for f in new)
        raise SchemaEvolutionError(
            NEW_COLUMNS_REFUSED,
            f"The source has columns the dataset does not: {names}; the flow's "
            "schemaEvolution is 'fail', so nothing was written. Add them to the dataset "
            "schema, or set schemaEvolution to 'addColumns' or 'frozen'.",
        )
    elif option == FROZEN:
        dropped = [f.name for f in new]
    else:  # addColumns (or `fail` with nothing new)
        added = new
    data = known + added
    write = _write_schema(table, data, file_source=file_source)
    return Evolution(
        data_schema=pa.schema(data),
        write_schema=write,
        added=tuple(added),
        dropped=tuple(dropped),
        merge_schema=table is not None and any(n not in table.names for n in write.names),
    )
