"""`TableOpening`: a Delta table opened in a thread of its own, its result or its failure
handed to the caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from sluice.lake.location import LakeTable
from sluice.lake.opening import TableOpening


def test_an_existing_table_is_opened_at_its_latest_version(tmp_path: Path) -> None:
    for rows in ([1, 2], [3]):
        write_deltalake(str(tmp_path), pa.table({"id": rows}), mode="append")
    snapshot = TableOpening(str(tmp_path)).result()
    assert snapshot is not None
    assert snapshot.version() == 1
    assert sorted(snapshot.to_pyarrow_table()["id"].to_pylist()) == [1, 2, 3]


def test_a_missing_table_opens_as_none(tmp_path: Path) -> None:
    assert TableOpening(str(tmp_path / "none")).result() is None


def test_the_opens_own_error_reaches_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_open(table: LakeTable) -> Any:
        raise PermissionError("no access to the lake")

    monkeypatch.setattr(LakeTable, "open", broken_open)
    opening = TableOpening(str(tmp_path))
    with pytest.raises(PermissionError, match="no access"):
        opening.result()
    opening.wait()  # after a failure too: nothing left running
