"""Exactly-once Delta commits of one run: append, replace a window, or merge on a key.

Every commit of a run carries a Delta transaction identifier (`txn` action, app id
`sluice-run-{run_id}`, version 1) and the run id in its commit info. Before writing, the run's
identifier is looked up in the table snapshot the write is then based on, so an attempt that
crashed after committing is recognised and nothing is written twice; delta-rs refuses the
commit if another commit carrying the same identifier lands in between (checked in tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError

from sluice.lake.commits import RUN_ID_KEY, CommitFacts, find_commit
from sluice.lake.location import LakeTable, TableRef, as_lake_table
from sluice.lake.parquet_format import writer_properties
from sluice.lake.predicates import quote_identifier

WriteMode = Literal["append", "replaceWindow", "merge"]
TXN_VERSION = 1
# delta-rs buffers each output file in memory up to this size: smaller files keep a run's
# memory flat however large its window (bench/README.md: +39% at 10M rows with the default
# ~100 MiB), at the cost of more files for a later compaction to merge.
TARGET_FILE_SIZE = 32 * 1024 * 1024


@dataclass(frozen=True)
class WritePlan:
    table: TableRef  # where the dataset's Delta table is, and the options that reach it
    run_id: str
    mode: WriteMode
    replace_predicate: str | None = None  # replaceWindow: from window_predicate(); None = full
    merge_keys: tuple[str, ...] = ()  # merge: primary key columns
    # The run adds columns to an existing table (schema evolution): Delta merges the schemas
    # in the same commit, older rows read null in the new columns.
    merge_schema: bool = False
    # Earlier runs over the same input (a re-trigger's chain): if one of them committed, this
    # run's input has landed already and nothing is written again, in any mode.
    earlier_runs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommitResult:
    version: int | None  # Delta version this run committed; None if nothing was committed
    rows_written: int  # rows this attempt fed to the table (merge: source rows)
    files_added: int
    bytes_written: int
    already_committed: bool  # an earlier attempt of this run had committed; nothing written now
    # Set when the commit found is an earlier run's over the same input (a re-trigger's
    # chain): that run's output, not this one's.
    committed_by_run: str | None = None


class BatchSchemaError(ValueError):
    """A batch's schema differs from the run's schema; nothing was committed."""


class ConcurrentWriteError(RuntimeError):
    """Another commit conflicted with this run's; nothing was committed. Retry the attempt."""


def app_id(run_id: str) -> str:
    """The Delta transaction app id of a run."""
    return f"sluice-run-{run_id}"


def _open(location: LakeTable) -> DeltaTable | None:
    """The table's latest snapshot (one seam, so tests can hand a write a stale one)."""
    return location.open()


def _refreshed(snapshot: DeltaTable) -> DeltaTable:
    """`snapshot` brought to the table's latest version (only the newer log entries read)."""
    snapshot.update_incremental()
    return snapshot


def _committed_in(table: DeltaTable, location: LakeTable, run_id: str) -> CommitFacts | None:
    """The run's commit, if its transaction identifier is in this snapshot.

    If the log entry is gone (log cleanup after the retention period) while the identifier
    survives in a checkpoint, the facts of the snapshot's version stand in (counts unknown).
    """
    if table.transaction_version(app_id(run_id)) is None:
        return None
    latest = table.version()
    found = find_commit(location, run_id, newest=latest)
    return found if found is not None else CommitFacts(latest, 0, 0, 0)


def _input_committed_in(table: DeltaTable, plan: WritePlan) -> CommitResult | None:
    """This run's commit, or an earlier run's of the same input, in this snapshot."""
    for run_id in (plan.run_id, *plan.earlier_runs):
        facts = _committed_in(table, as_lake_table(plan.table), run_id)
        if facts is not None:
            return _already(facts, None if run_id == plan.run_id else run_id)
    return None


def committed_version(ref: TableRef, run_id: str) -> int | None:
    """The Delta version at which `run_id` committed, or None if it has not committed."""
    location = as_lake_table(ref)
    table = location.open()
    facts = None if table is None else _committed_in(table, location, run_id)
    return facts.version if facts is not None else None


def _already(facts: CommitFacts, committed_by_run: str | None) -> CommitResult:
    """An earlier attempt's commit, reported with what it added."""
    return CommitResult(
        facts.version,
        facts.rows_added,
        facts.files_added,
        facts.bytes_added,
        already_committed=True,
        committed_by_run=committed_by_run,
    )


class _Stream:
    """The run's batches, checked against the schema and counted as deltalake pulls them."""

    def __init__(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
        self.schema = schema
        self.rows = 0
        self.error: BaseException | None = None
        self._batches = iter(batches)
        self._first: pa.RecordBatch | None = None

    def _next_nonempty(self) -> pa.RecordBatch | None:
        for batch in self._batches:
            # deltalake trusts the stream's schema: a mismatching batch would crash the process.
            if not batch.schema.equals(self.schema):
                raise BatchSchemaError(
                    f"Batch schema does not match the run's schema.\n"
                    f"expected: {self.schema}\ngot: {batch.schema}"
                )
            if batch.num_rows:
                return batch
        return None

    def has_rows(self) -> bool:
        """Pull up to the first non-empty batch (kept for the stream); False if there is none."""
        if self._first is None:
            self._first = self._next_nonempty()
        return self._first is not None

    def _iterate(self) -> Iterator[pa.RecordBatch]:
        try:
            batch = self._first if self._first is not None else self._next_nonempty()
            self._first = None
            while batch is not None:
                self.rows += batch.num_rows
                yield batch
                batch = self._next_nonempty()
        except Exception as error:  # re-raised as itself once deltalake gives up
            self.error = error
            raise

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self._iterate())


def _commit_properties(run_id: str) -> CommitProperties:
    return CommitProperties(
        custom_metadata={RUN_ID_KEY: run_id},
        app_transactions=[Transaction(app_id=app_id(run_id), version=TXN_VERSION)],
    )


def _merge(
    table: DeltaTable, plan: WritePlan, source: pa.RecordBatchReader, properties: WriterProperties
) -> None:
    """Upsert on the merge keys.

    deltalake's merge takes the stream itself (no `pa.Table` needed) but its join may hold
    a good part of the source in memory. Source rows must be unique on the keys: two rows
    matching one target row make the merge fail (nothing committed).
    """
    on = " AND ".join(
        f"target.{quote_identifier(k)} = source.{quote_identifier(k)}" for k in plan.merge_keys
    )
    (
        table.merge(
            source,
            predicate=on,
            source_alias="source",
            target_alias="target",
            merge_schema=plan.merge_schema,
            writer_properties=properties,
            commit_properties=_commit_properties(plan.run_id),
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )


def _write(table: DeltaTable | None, plan: WritePlan, source: pa.RecordBatchReader) -> None:
    location = as_lake_table(plan.table)
    # Keyed by the stream's columns: a merge writes the table's, which hold them all.
    parquet = writer_properties(source.schema, location.lake.integer_encoding)
    if plan.mode == "merge" and table is not None:
        _merge(table, plan, source, parquet)
        return
    target = table if table is not None else location.uri
    properties = _commit_properties(plan.run_id)
    # A new table takes the stream's schema as it is; only an existing one merges.
    schema_mode: Literal["merge"] | None = (
        "merge" if plan.merge_schema and table is not None else None
    )
    if plan.mode == "replaceWindow":
        write_deltalake(
            target,
            source,
            mode="overwrite",
            predicate=plan.replace_predicate,
            schema_mode=schema_mode,
            commit_properties=properties,
            target_file_size=TARGET_FILE_SIZE,
            writer_properties=parquet,
            storage_options=location.storage_options if table is None else None,
        )
    else:  # append; or a merge into a table not there yet, which inserts every row
        write_deltalake(
            target,
            source,
            mode="append",
            schema_mode=schema_mode,
            commit_properties=properties,
            target_file_size=TARGET_FILE_SIZE,
            writer_properties=parquet,
            storage_options=location.storage_options if table is None else None,
        )


def _check(plan: WritePlan, schema: pa.Schema) -> None:
    if plan.mode == "merge":
        if not plan.merge_keys:
            raise ValueError("A merge needs at least one key column.")
        missing = [k for k in plan.merge_keys if k not in schema.names]
        if missing:
            raise ValueError(f"Merge keys not in the schema: {', '.join(missing)}.")
    elif plan.merge_keys:
        raise ValueError("Merge keys are only for the merge mode.")
    if plan.replace_predicate is not None and plan.mode != "replaceWindow":
        raise ValueError("A replace predicate is only for the replaceWindow mode.")


def write_run(
    plan: WritePlan,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    snapshot: DeltaTable | None = None,
) -> CommitResult:
    """Write one run's batches to the Delta table in one commit (or none), exactly once.

    `schema` (system columns included) creates the table on first write; every batch must
    have exactly this schema. Batches are streamed to deltalake through a
    `RecordBatchReader`, never collected. `append` and `merge` with no rows commit nothing;
    `replaceWindow` with no rows still commits, deleting the window's old rows. For
    `replaceWindow` every new row must satisfy the predicate, else deltalake refuses the write.
    A failing write leaves the table as it was: the source's own exception is re-raised,
    a conflicting concurrent commit raises `ConcurrentWriteError`.

    `snapshot` is the table as the caller opened it to decide the write (its schema): brought
    up to date here from the log entries added since, instead of opened again (an open
    replays the log since the last checkpoint; a 100-row run opened the table three times).
    """
    _check(plan, schema)
    location = as_lake_table(plan.table)
    table = _refreshed(snapshot) if snapshot is not None else _open(location)
    before = table.version() if table is not None else -1
    if table is not None:
        done = _input_committed_in(table, plan)
        if done is not None:
            return done
    stream = _Stream(schema, batches)
    if plan.mode != "replaceWindow" and not stream.has_rows():
        return CommitResult(None, 0, 0, 0, already_committed=False)
    try:
        _write(table, plan, stream.reader())
    except CommitFailedError as error:
        latest = _open(location)
        done = _input_committed_in(latest, plan) if latest is not None else None
        if done is not None:  # another attempt of this run (or its input) won the race
            return done
        raise ConcurrentWriteError(f"Concurrent commit to {location.uri}: {error}") from error
    except Exception as error:  # deltalake wraps a source's error in its own
        if stream.error is not None and stream.error is not error:
            raise stream.error from error
        raise
    # Our commit is one of the versions that appeared since `before` (others may have too).
    # deltalake moves a table it wrote through to the version it committed; a new table was
    # written through its URI, so it is opened.
    written = table if table is not None else location.open()
    newest = written.version() if written is not None else before
    facts = find_commit(location, plan.run_id, newest=newest, oldest=before + 1)
    if facts is None:  # pragma: no cover - deltalake returned without committing
        raise RuntimeError(f"Run {plan.run_id} wrote to {location.uri} but no commit is found.")
    return CommitResult(
        facts.version, stream.rows, facts.files_added, facts.bytes_added, already_committed=False
    )
