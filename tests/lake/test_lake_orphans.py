"""Orphan data files: removed only when no version of the log references them and they were
written before the cutoff; every version the log holds stays readable."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from sluice.lake.orphans import delta_tables_under, remove_orphan_files

DATA = pa.table({"id": pa.array([1, 2, 3], pa.int64())})


def _data_files(table: Path) -> set[str]:
    return {p.relative_to(table).as_posix() for p in table.rglob("*.parquet")
            if "_delta_log" not in p.parts}


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_only_unreferenced_files_older_than_the_cutoff_are_removed(tmp_path: Path) -> None:
    table = tmp_path / "lake" / "org" / "prod" / "orders"
    write_deltalake(str(table), DATA)
    write_deltalake(str(table), DATA, mode="overwrite")  # version 0's file is now removed
    referenced = _data_files(table)
    assert len(referenced) == 2
    # A killed attempt's staged file, and one a live writer is staging right now.
    staged = table / "part-00001-killed-attempt-c000.snappy.parquet"
    shutil.copy(table / sorted(referenced)[0], staged)
    _age(staged, 3600)
    live = table / "part-00001-live-writer-c000.snappy.parquet"
    shutil.copy(staged, live)
    for path in table.rglob("*.parquet"):
        if path not in (staged, live):
            _age(path, 3600)
    cutoff_ms = int((time.time() - 60) * 1000)
    removed = remove_orphan_files(table, written_before_ms=cutoff_ms)
    assert removed == [staged.name]
    assert _data_files(table) == referenced | {live.name}
    # Time travel to the overwritten version still finds its (removed-from-log) file.
    assert DeltaTable(str(table), version=0).to_pyarrow_table().num_rows == 3
    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 3


def test_files_named_in_a_checkpoint_are_kept(tmp_path: Path) -> None:
    table = tmp_path / "t"
    write_deltalake(str(table), DATA)
    write_deltalake(str(table), DATA, mode="append")
    DeltaTable(str(table)).create_checkpoint()
    for entry in (table / "_delta_log").glob("0*.json"):
        entry.unlink()  # as log cleanup would: only the checkpoint names the files now
    for path in table.rglob("*.parquet"):
        _age(path, 3600)
    assert remove_orphan_files(table, written_before_ms=int(time.time() * 1000)) == []
    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 6


def test_tables_are_found_below_the_lake_and_a_folder_without_a_log_is_left_alone(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    for name in ("a", "b"):
        write_deltalake(str(lake / "org" / "prod" / name), DATA)
    plain = lake / "org" / "prod" / "not-a-table"
    plain.mkdir()
    (plain / "x.parquet").write_bytes(b"PAR1")
    assert [p.name for p in delta_tables_under(lake)] == ["a", "b"]
    assert remove_orphan_files(plain, written_before_ms=int(time.time() * 1000) + 10**6) == []
    assert (plain / "x.parquet").exists()
    assert list(delta_tables_under(tmp_path / "missing")) == []
