"""Fixtures shared by the connector tests: a service context with a temp allowed root, and
PostgreSQL tables made and dropped per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sluice.connectors.contract import ConnectorContext
from support.connector_reads import pg_execute


@pytest.fixture
def allowed_root(tmp_path: Path) -> Path:
    root = tmp_path / "allowed"
    root.mkdir()
    return root.resolve()


@pytest.fixture
def context(tmp_path: Path, allowed_root: Path) -> ConnectorContext:
    return ConnectorContext(
        allowed_file_roots=(allowed_root,),
        lake_dir=tmp_path / "lake",
        metadata_database_url="sqlite:///unused.db",
    )


@pytest.fixture
def pg_table() -> Iterator[Callable[..., str]]:
    """make(columns_sql) -> a new table `rd_<uuid>` in db `test`, dropped after the test."""
    made: list[str] = []

    def make(columns: str, name: str | None = None) -> str:
        table = name or f"rd_{uuid.uuid4().hex[:12]}"
        quoted = '"' + table.replace('"', '""') + '"'
        pg_execute(f"CREATE TABLE {quoted} ({columns})")
        made.append(quoted)
        return table

    yield make
    for quoted in made:
        pg_execute(f"DROP TABLE IF EXISTS {quoted}")
