"""The run writer: one Delta commit per run, exactly once, streamed, atomic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError
from lake_helpers import INGESTED_AT, data_rows, full_schema, run_batches, version

from sluice.domain.windows import Window
from sluice.lake import writer
from sluice.lake.predicates import window_predicate
from sluice.lake.schema import add_system_columns
from sluice.lake.writer import (
    BatchSchemaError,
    ConcurrentWriteError,
    WriteMode,
    WritePlan,
    committed_version,
    write_run,
)
from support.faults import InjectedFault, fail_after_commit, fail_before_write

DATA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        ("Event Time", pa.timestamp("us", tz="UTC")),
        ("v", pa.string()),
    ]
)
SCHEMA = full_schema(DATA)
DAY = Window(
    int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()),
    int(datetime(2024, 5, 2, tzinfo=UTC).timestamp()),
)
MODES: tuple[WriteMode, ...] = ("append", "replaceWindow", "merge")
DAY_PREDICATE = window_predicate("Event Time", DATA.field("Event Time").type, DAY, "UTC")


def at(hours: float, day: Window = DAY) -> datetime:
    return day.start_datetime + timedelta(hours=hours)


def rows(ids: range | list[int], hours: float = 1.0, v: str = "x") -> list[dict[str, Any]]:
    return [{"id": i, "Event Time": at(hours), "v": v} for i in ids]


def append(uri: str, run_id: str, data: list[dict[str, Any]]) -> writer.CommitResult:
    return write_run(WritePlan(uri, run_id, "append"), SCHEMA, run_batches(DATA, data, run_id))


def replace(
    uri: str, run_id: str, data: list[dict[str, Any]], predicate: str | None = DAY_PREDICATE
) -> writer.CommitResult:
    plan = WritePlan(uri, run_id, "replaceWindow", replace_predicate=predicate)
    return write_run(plan, SCHEMA, run_batches(DATA, data, run_id))


def merge(uri: str, run_id: str, data: list[dict[str, Any]]) -> writer.CommitResult:
    plan = WritePlan(uri, run_id, "merge", merge_keys=("id",))
    return write_run(plan, SCHEMA, run_batches(DATA, data, run_id))


def commit_info(uri: str, at_version: int) -> dict[str, Any]:
    return next(c for c in DeltaTable(uri).history() if c["version"] == at_version)


def local_files(uri: str, at_version: int) -> list[str]:
    return [f.removeprefix("file://") for f in DeltaTable(uri, version=at_version).file_uris()]


def assert_commit_facts(uri: str, result: writer.CommitResult) -> None:
    """files/bytes equal the commit's own metrics and the files on disk."""
    assert result.version is not None
    info = commit_info(uri, result.version)
    metrics = info["operationMetrics"]
    added = metrics.get("num_added_files", metrics.get("num_target_files_added"))
    assert result.files_added == added
    table = DeltaTable(uri, version=result.version)
    before = set() if result.version == 0 else set(local_files(uri, result.version - 1))
    new_files = [f for f in local_files(uri, result.version) if f not in before]
    assert result.files_added == len(new_files)
    assert result.bytes_written == sum(os.path.getsize(f) for f in new_files)
    assert info[writer.RUN_ID_KEY] is not None
    assert table.transaction_version(writer.app_id(info[writer.RUN_ID_KEY])) == 1


# --- exactly once ---------------------------------------------------------------------------


def test_the_same_run_twice_writes_one_copy(table_uri: str) -> None:
    first = append(table_uri, "r1", rows(range(5)))
    assert first == writer.CommitResult(0, 5, first.files_added, first.bytes_written, False)
    assert first.files_added == 1 and first.bytes_written > 0
    assert_commit_facts(table_uri, first)
    again = append(table_uri, "r1", rows(range(5)))
    # Nothing is written again; the earlier commit is reported with what it added.
    assert again == writer.CommitResult(0, 5, first.files_added, first.bytes_written,
                                        already_committed=True)
    assert version(table_uri) == 0
    assert len(data_rows(table_uri, "id")) == 5


def test_every_mode_commits_the_run_transaction(table_uri: str) -> None:
    results = [
        append(table_uri, "a", rows(range(3))),
        replace(table_uri, "w", rows(range(2))),
        replace(table_uri, "w-empty", []),
        merge(table_uri, "m", rows([1, 7])),
    ]
    table = DeltaTable(table_uri)
    for run_id, result in zip(["a", "w", "w-empty", "m"], results, strict=True):
        assert table.transaction_version(f"sluice-run-{run_id}") == 1
        assert result.version is not None
        assert committed_version(table_uri, run_id) == result.version
        assert commit_info(table_uri, result.version)["sluice.runId"] == run_id
        assert_commit_facts(table_uri, result)
    assert [r.version for r in results] == [0, 1, 2, 3]


def test_committed_version_finds_old_runs(table_uri: str) -> None:
    assert committed_version(table_uri, "r0") is None  # no table yet
    for k in range(40):  # more commits than one page of history
        append(table_uri, f"r{k}", rows([k]))
    assert committed_version(table_uri, "r0") == 0
    assert committed_version(table_uri, "r7") == 7
    assert committed_version(table_uri, "r39") == 39
    assert committed_version(table_uri, "r40") is None


def test_an_attempt_that_loses_the_race_to_its_own_run_writes_nothing(
    table_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(table_uri, "base", rows([0]))
    stale = DeltaTable(table_uri)  # what a slow attempt saw before the other one committed
    append(table_uri, "r1", rows([1]))
    opens = iter([stale])
    real_open = writer._open
    monkeypatch.setattr(writer, "_open", lambda uri: next(opens, None) or real_open(uri))
    result = append(table_uri, "r1", rows([1]))
    assert result.version == 1 and result.already_committed
    assert (result.rows_written, result.files_added) == (1, 1)
    assert version(table_uri) == 1
    assert [r["id"] for r in data_rows(table_uri, "id")] == [0, 1]


def test_a_conflicting_commit_of_another_run_is_a_concurrent_write_error(
    table_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(table_uri, "base", rows([0]))
    stale = DeltaTable(table_uri)
    append(table_uri, "other", rows([1]))
    opens = iter([stale])
    real_open = writer._open
    monkeypatch.setattr(writer, "_open", lambda uri: next(opens, None) or real_open(uri))
    with pytest.raises(ConcurrentWriteError):
        replace(table_uri, "r2", rows([2]))
    assert version(table_uri) == 1
    assert committed_version(table_uri, "r2") is None


def _no_open(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_location: object) -> None:
        raise AssertionError("the write opened the table again")

    monkeypatch.setattr(writer, "_open", refuse)


@pytest.mark.parametrize("mode", MODES)
def test_a_write_given_an_old_snapshot_brings_it_up_to_date_instead_of_opening(
    table_uri: str, mode: WriteMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(table_uri, "base", rows([0]))
    snapshot = DeltaTable(table_uri)  # opened by the run before another run committed
    append(table_uri, "other", rows([1], hours=2))
    _no_open(monkeypatch)
    plan = WritePlan(
        table_uri, "r2", mode,
        replace_predicate=DAY_PREDICATE if mode == "replaceWindow" else None,
        merge_keys=("id",) if mode == "merge" else (),
    )
    result = write_run(plan, SCHEMA, run_batches(DATA, rows([2], hours=3), "r2"), snapshot)
    assert result.version == 2 == version(table_uri) and not result.already_committed
    assert (result.rows_written, result.files_added) == (1, 1) and result.bytes_written > 0
    assert snapshot.version() == 2  # moved on to the commit it made
    expected = [2] if mode == "replaceWindow" else [0, 1, 2]
    assert [r["id"] for r in data_rows(table_uri, "id")] == expected


def test_a_snapshot_taken_before_the_runs_own_commit_finds_that_commit(
    table_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(table_uri, "base", rows([0]))
    snapshot = DeltaTable(table_uri)
    append(table_uri, "r1", rows([1]))  # an earlier attempt of the run committed since
    _no_open(monkeypatch)
    result = write_run(
        WritePlan(table_uri, "r1", "append"), SCHEMA, run_batches(DATA, rows([1]), "r1"), snapshot
    )
    assert result.version == 1 and result.already_committed
    assert version(table_uri) == 1
    assert [r["id"] for r in data_rows(table_uri, "id")] == [0, 1]


def test_fault_after_commit_then_retry_is_recognised(table_uri: str) -> None:
    plan = WritePlan(table_uri, "r1", "replaceWindow", replace_predicate=DAY_PREDICATE)
    with pytest.raises(InjectedFault), fail_after_commit():
        write_run(plan, SCHEMA, run_batches(DATA, rows(range(3)), "r1"))
    assert version(table_uri) == 0  # the commit happened before the "crash"
    retry = write_run(plan, SCHEMA, run_batches(DATA, rows(range(3)), "r1"))
    assert retry.version == 0 and retry.already_committed
    assert (retry.rows_written, retry.files_added) == (3, 1) and retry.bytes_written > 0
    assert len(data_rows(table_uri, "id")) == 3


def test_fault_before_write_writes_nothing(table_uri: str) -> None:
    consumed = []

    def source() -> Iterator[pa.RecordBatch]:
        consumed.append(True)
        yield from run_batches(DATA, rows(range(3)), "r1")

    with pytest.raises(InjectedFault), fail_before_write():
        write_run(WritePlan(table_uri, "r1", "append"), SCHEMA, source())
    assert version(table_uri) is None and not consumed
    assert append(table_uri, "r1", rows(range(3))).version == 0


# --- replaceWindow --------------------------------------------------------------------------


def test_replace_window_keeps_rows_outside_and_honours_the_boundaries(table_uri: str) -> None:
    before = [
        {"id": 1, "Event Time": at(0) - timedelta(microseconds=1), "v": "old"},
        {"id": 2, "Event Time": at(0), "v": "old"},  # == start: replaced
        {"id": 3, "Event Time": at(12), "v": "old"},
        {"id": 4, "Event Time": at(24) - timedelta(microseconds=1), "v": "old"},
        {"id": 5, "Event Time": at(24), "v": "old"},  # == end: kept
    ]
    append(table_uri, "load", before)
    result = replace(table_uri, "w1", [{"id": 9, "Event Time": at(6), "v": "new"}])
    assert result.version == 1 and result.rows_written == 1
    assert_commit_facts(table_uri, result)
    assert [(r["id"], r["v"]) for r in data_rows(table_uri, "id")] == [
        (1, "old"), (5, "old"), (9, "new")
    ]


def test_rerunning_a_window_leaves_the_table_equal(table_uri: str) -> None:
    next_day = Window(DAY.end, DAY.end + 86400)
    append(table_uri, "other-day", [{"id": 100, "Event Time": at(1, next_day), "v": "n"}])
    window_rows = rows(range(50), hours=3)
    replace(table_uri, "w1", window_rows)
    first = data_rows(table_uri, "id")
    result = replace(table_uri, "w2", window_rows)
    second = data_rows(table_uri, "id")
    assert result.version == 2
    assert len(second) == 51
    strip = [{k: v for k, v in r.items() if k != "_sluice_run_id"} for r in first]
    assert strip == [{k: v for k, v in r.items() if k != "_sluice_run_id"} for r in second]
    assert {r["_sluice_run_id"] for r in second} == {"other-day", "w2"}


def test_replace_window_with_no_rows_still_deletes_the_window(table_uri: str) -> None:
    next_day = Window(DAY.end, DAY.end + 86400)
    tomorrow = {"id": 50, "Event Time": at(1, next_day), "v": "n"}
    append(table_uri, "load", [*rows(range(3)), tomorrow])
    result = replace(table_uri, "vanished", [])
    assert result.version == 1 and result.rows_written == 0 and not result.already_committed
    assert DeltaTable(table_uri).transaction_version("sluice-run-vanished") == 1
    assert [r["id"] for r in data_rows(table_uri, "id")] == [50]
    assert_commit_facts(table_uri, result)


def test_replace_window_creates_the_table_even_with_no_rows(table_uri: str) -> None:
    result = replace(table_uri, "first", [])
    assert result.version == 0
    table = DeltaTable(table_uri)
    assert pa.schema(table.schema().to_arrow()).names == SCHEMA.names
    assert table.transaction_version("sluice-run-first") == 1


def test_full_replace_without_a_predicate(table_uri: str) -> None:
    append(table_uri, "load", rows(range(10)))
    result = replace(table_uri, "full", rows([42]), predicate=None)
    assert result.version == 1
    assert [r["id"] for r in data_rows(table_uri, "id")] == [42]


def test_rows_outside_the_window_make_the_write_fail(table_uri: str) -> None:
    append(table_uri, "load", rows(range(3)))
    outside = [{"id": 9, "Event Time": at(30), "v": "late"}]
    with pytest.raises(DeltaError, match="failed validation"):
        replace(table_uri, "w1", outside)
    assert version(table_uri) == 0
    assert committed_version(table_uri, "w1") is None


# --- merge ----------------------------------------------------------------------------------


def test_merge_upserts_on_the_key(table_uri: str) -> None:
    append(table_uri, "load", rows(range(1, 4), v="old"))
    result = merge(table_uri, "m1", rows([2, 3, 4], v="new"))
    assert result.version == 1 and result.rows_written == 3
    assert_commit_facts(table_uri, result)
    got = [(r["id"], r["v"], r["_sluice_run_id"]) for r in data_rows(table_uri, "id")]
    assert got == [(1, "old", "load"), (2, "new", "m1"), (3, "new", "m1"), (4, "new", "m1")]
    assert merge(table_uri, "m1", rows([2], v="again")).already_committed


def test_merge_on_composite_keys_with_awkward_names(table_uri: str) -> None:
    keys = ("Region Code", 'we"ird')
    data = pa.schema([(keys[0], pa.string()), (keys[1], pa.int32()), ("amount", pa.int64())])
    schema = full_schema(data)

    def run(run_id: str, values: list[tuple[str, int, int]]) -> writer.CommitResult:
        batch_rows = [dict(zip([*keys, "amount"], v, strict=True)) for v in values]
        plan = WritePlan(table_uri, run_id, "merge", merge_keys=keys)
        return write_run(plan, schema, run_batches(data, batch_rows, run_id))

    assert run("m1", [("EU", 1, 1), ("US", 1, 2)]).version == 0  # creates the table
    assert run("m2", [("EU", 1, 10), ("EU", 2, 3)]).version == 1
    got = sorted((r[keys[0]], r[keys[1]], r["amount"]) for r in data_rows(table_uri, "amount"))
    assert got == [("EU", 1, 10), ("EU", 2, 3), ("US", 1, 2)]


def test_merge_with_duplicate_source_keys_fails_and_changes_nothing(table_uri: str) -> None:
    append(table_uri, "load", rows([1]))
    with pytest.raises(DeltaError, match="multiple source rows"):
        merge(table_uri, "m1", rows([1, 1]))
    assert version(table_uri) == 0


def test_merge_plan_is_checked(table_uri: str) -> None:
    with pytest.raises(ValueError, match="at least one key"):
        write_run(WritePlan(table_uri, "m", "merge"), SCHEMA, [])
    with pytest.raises(ValueError, match="not in the schema"):
        write_run(WritePlan(table_uri, "m", "merge", merge_keys=("nope",)), SCHEMA, [])
    with pytest.raises(ValueError, match="only for the merge"):
        write_run(WritePlan(table_uri, "a", "append", merge_keys=("id",)), SCHEMA, [])


# --- zero rows ------------------------------------------------------------------------------


def test_append_and_merge_with_no_rows_commit_nothing(table_uri: str) -> None:
    assert append(table_uri, "a0", []) == writer.CommitResult(None, 0, 0, 0, False)
    assert version(table_uri) is None  # no table created
    append(table_uri, "load", rows([1]))
    empty_batches = [add_system_columns(pa.RecordBatch.from_pylist([], schema=DATA), "a1",
                                        INGESTED_AT, None)] * 3
    result = write_run(WritePlan(table_uri, "a1", "append"), SCHEMA, empty_batches)
    assert result.version is None
    assert merge(table_uri, "m0", []).version is None
    assert version(table_uri) == 0


# --- failures leave the table unchanged -----------------------------------------------------


def test_a_batch_with_another_schema_fails_and_changes_nothing(table_uri: str) -> None:
    append(table_uri, "load", rows([1]))
    wrong = pa.RecordBatch.from_pylist(
        [{"id": 2, "Event Time": 5, "v": "x"}],
        schema=pa.schema([("id", pa.int64()), ("Event Time", pa.int64()), ("v", pa.string())]),
    )

    def source() -> Iterator[pa.RecordBatch]:
        yield from run_batches(DATA, rows([3]), "bad")
        yield add_system_columns(wrong, "bad", INGESTED_AT, None)

    for mode in MODES:
        plan = WritePlan(table_uri, "bad", mode, merge_keys=("id",) if mode == "merge" else ())
        with pytest.raises(BatchSchemaError, match="does not match"):
            write_run(plan, SCHEMA, source())
    with pytest.raises(BatchSchemaError):  # the very first batch
        write_run(WritePlan(table_uri, "bad", "append"), SCHEMA,
                  [add_system_columns(wrong, "bad", INGESTED_AT, None)])
    assert version(table_uri) == 0
    assert [r["id"] for r in data_rows(table_uri, "id")] == [1]


class SourceDiedError(Exception):
    pass


def test_a_failing_source_raises_its_own_error_and_changes_nothing(table_uri: str) -> None:
    append(table_uri, "load", rows([1]))

    def source() -> Iterator[pa.RecordBatch]:
        yield from run_batches(DATA, rows(range(10, 20)), "r", batch_rows=2)
        raise SourceDiedError("connection reset")

    for mode in MODES:
        plan = WritePlan(table_uri, "r", mode, merge_keys=("id",) if mode == "merge" else ())
        with pytest.raises(SourceDiedError, match="connection reset"):
            write_run(plan, SCHEMA, source())
    assert version(table_uri) == 0
    assert committed_version(table_uri, "r") is None


def test_a_null_in_a_required_column_fails_and_changes_nothing(table_uri: str) -> None:
    append(table_uri, "load", rows([1]))
    loose = pa.schema([f.with_nullable(True) if f.name == "id" else f for f in DATA])
    batch = add_system_columns(
        pa.RecordBatch.from_pylist([{"id": None, "Event Time": at(1), "v": "x"}], schema=loose),
        "r", INGESTED_AT, None,
    )
    with pytest.raises(DeltaError):
        write_run(WritePlan(table_uri, "r", "append"), batch.schema, [batch])
    assert version(table_uri) == 0


# --- streaming ------------------------------------------------------------------------------


def test_many_small_batches_stream_into_one_commit(table_uri: str) -> None:
    pulled = 0
    peak = 0
    total = 0

    def source() -> Iterator[pa.RecordBatch]:
        nonlocal pulled, peak, total
        for k in range(300):
            batch = add_system_columns(
                pa.RecordBatch.from_pylist(
                    [{"id": k * 1000 + i, "Event Time": at(1), "v": "x" * 100}
                     for i in range(1000)],
                    schema=DATA,
                ),
                "big", INGESTED_AT, None,
            )
            total += batch.nbytes
            pulled += 1
            peak = max(peak, pa.total_allocated_bytes())
            yield batch

    baseline = pa.total_allocated_bytes()
    result = write_run(WritePlan(table_uri, "big", "append"), SCHEMA, source())
    assert pulled == 300
    assert result.version == 0 and result.rows_written == 300_000
    assert DeltaTable(table_uri).version() == 0
    assert len(DeltaTable(table_uri).history()) == 1
    # Batches are released as deltalake writes them: Arrow memory never holds the whole run.
    assert peak - baseline < total / 4
    assert_commit_facts(table_uri, result)
