"""The map stage: align each source batch to the dataset's columns and types.

Columns are matched by name (exactly, else ignoring case); a dataset column the source lacks
is filled with nulls; source columns the dataset does not have are dropped. A value that
cannot be cast to the dataset's type makes its row a bad row: it is left out of the batch and
reported with its reason, so the run can decide whether the failed share is acceptable.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sluice.connectors.reading import BadRow


@dataclass
class MappedBatch:
    batch: pa.RecordBatch
    bad_rows: list[BadRow]


def _source_index(source: pa.Schema, name: str) -> int | None:
    index = source.get_field_index(name)
    if index >= 0:
        return int(index)
    lowered = name.lower()
    matches = [i for i, f in enumerate(source) if f.name.lower() == lowered]
    return matches[0] if len(matches) == 1 else None


def _failing_rows(column: pa.Array, target: pa.DataType) -> list[tuple[int, str]]:
    """Row positions whose value does not cast, with the reason (the slow path, on failure)."""
    failures = []
    for position in range(len(column)):
        value = column.slice(position, 1)
        try:
            pc.cast(value, target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            failures.append((position, str(error).split("\n")[0]))
    return failures


class BatchMapper:
    """Maps batches of one source schema onto one dataset schema."""

    def __init__(self, target: pa.Schema, *, location_column: str | None = None) -> None:
        self.target = target
        self.location_column = location_column

    def map(self, batch: pa.RecordBatch, first_row: int) -> MappedBatch:
        columns: list[pa.Array] = []
        bad: dict[int, str] = {}
        for field in self.target:
            index = _source_index(batch.schema, field.name)
            if index is None:
                columns.append(pa.nulls(batch.num_rows, field.type))
                continue
            column = batch.column(index)
            if column.type.equals(field.type):
                columns.append(column)
                continue
            try:
                columns.append(pc.cast(column, field.type, safe=True))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                for position, reason in _failing_rows(column, field.type):
                    bad.setdefault(position, f"column '{field.name}': {reason}")
                columns.append(column)
        if not bad:
            return MappedBatch(pa.RecordBatch.from_arrays(columns, schema=self.target), [])
        keep = pa.array([i not in bad for i in range(batch.num_rows)])
        kept = batch.filter(keep)
        rows = [
            BadRow(
                reason=reason,
                location=self._location(batch, position, first_row),
                raw=_raw(batch, position),
            )
            for position, reason in sorted(bad.items())
        ]
        # The kept rows cast cleanly now: map them again on the fast path.
        return MappedBatch(self.map(kept, first_row).batch, rows)

    def _location(self, batch: pa.RecordBatch, position: int, first_row: int) -> str:
        if self.location_column and self.location_column in batch.schema.names:
            source = batch.column(self.location_column)[position].as_py()
            return f"{source}: row {first_row + position + 1}"
        return f"row {first_row + position + 1}"


def _raw(batch: pa.RecordBatch, position: int) -> str:
    row = batch.slice(position, 1).to_pylist()[0]
    text = ", ".join(f"{k}={v!r}" for k, v in row.items())
    return text[:2000]
