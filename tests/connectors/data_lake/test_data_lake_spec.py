"""The data-lake target's test: its folder can be created and written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.data_lake.spec import CONNECTOR
from sluice.connectors.errors import ConnectionTestFailed


def test_missing_lake_folder_is_created_and_left_clean(context: ConnectorContext) -> None:
    assert not context.lake_dir.exists()
    CONNECTOR.test(context, {})
    assert context.lake_dir.is_dir()
    assert list(context.lake_dir.iterdir()) == []


def test_existing_lake_folder_passes(context: ConnectorContext) -> None:
    context.lake_dir.mkdir()
    (context.lake_dir / "table").mkdir()
    CONNECTOR.test(context, {})
    assert [p.name for p in context.lake_dir.iterdir()] == ["table"]


def test_lake_folder_under_a_file_fails(context: ConnectorContext, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConnectionTestFailed, match="cannot be created or written"):
        CONNECTOR.test(replace(context, lake_dir=blocker / "lake"), {})


def test_lake_path_that_is_a_file_fails(context: ConnectorContext, tmp_path: Path) -> None:
    blocker = tmp_path / "lake-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConnectionTestFailed, match="SLUICE_DATA_DIR"):
        CONNECTOR.test(replace(context, lake_dir=blocker), {})
