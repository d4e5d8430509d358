"""The dataset's schema as a run finds it: its Delta table's, and its catalog declaration.

How the run's columns meet them is `engine.schema_evolution`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sluice.domain.flow_specs import ADD_COLUMNS
from sluice.engine.column_sources import find_field
from sluice.engine.schema_evolution import evolve, known_columns
from sluice.lake.location import TableRef, as_lake_table
from sluice.lake.schema import catalog_schema_to_arrow

if TYPE_CHECKING:
    from deltalake import DeltaTable


def existing_table_schema(ref: TableRef) -> pa.Schema | None:
    """The Delta table's full schema (system columns included); None when there is no table."""
    return snapshot_schema(as_lake_table(ref).open())


def snapshot_schema(table: DeltaTable | None) -> pa.Schema | None:
    """The full schema of an opened table snapshot (system columns included); None: no table."""
    if table is None:
        return None
    return pa.schema(table.schema().to_arrow())


@dataclass(frozen=True)
class DatasetSchema:
    table: pa.Schema | None  # the Delta table's, system columns included
    catalog: pa.Schema | None  # the declared columns

    def column_type(self, name: str) -> pa.DataType | None:
        """The type of the dataset column `name` (table first), if it has one."""
        fields = known_columns(self.table, self.catalog)
        index = find_field(fields, name)
        return fields[index].type if index is not None else None


def dataset_schema(location: TableRef, catalog_schema: dict[str, Any] | None) -> DatasetSchema:
    return snapshot_dataset_schema(as_lake_table(location).open(), catalog_schema)


def snapshot_dataset_schema(
    table: DeltaTable | None, catalog_schema: dict[str, Any] | None
) -> DatasetSchema:
    """The dataset's schema from a snapshot of its table the caller has opened already."""
    declared = None
    if catalog_schema and catalog_schema.get("fields"):
        declared = catalog_schema_to_arrow(list(catalog_schema["fields"]))
    return DatasetSchema(snapshot_schema(table), declared)


def target_schema(
    location: TableRef,
    catalog_schema: dict[str, Any] | None,
    source_schema: pa.Schema,
    *,
    drop: Sequence[str] = (),
) -> pa.Schema:
    """The columns a by-name run of `source_schema` writes (system columns excluded), new
    source columns added: what the runner decides without a mapping set, for callers that
    map batches themselves (benchmarks)."""
    dataset = dataset_schema(location, catalog_schema)
    incoming = pa.schema([f for f in source_schema if f.name not in set(drop)])
    return evolve(
        incoming, table=dataset.table, catalog=dataset.catalog, option=ADD_COLUMNS
    ).data_schema
