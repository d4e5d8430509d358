"""Fixtures of the API tests: the local root flows may read, and a table flow in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.config import Settings
from support.api_bodies import FS, created_id
from support.callers import Caller
from support.flow_bodies import flow_body, table_flow_parts


@pytest.fixture
def root(settings: Settings) -> Path:
    """The first local root the settings allow: where the tests write their source files."""
    return Path(settings.allowed_file_roots[0])


@pytest.fixture
def table_flow(caller: Caller, root: Path) -> str:
    """A `once` table flow from a SQLite file in `root` (flow_bodies' defaults); its id."""
    _base, source, target_id = table_flow_parts(caller, root)
    return created_id(caller.post(f"{FS}/flows", json=flow_body(source, target_id)))
