"""Engine fixtures: a migrated metadata store (SQLite and PostgreSQL) with one tenant, and a
worker executing runs for real on the settings' store."""

from __future__ import annotations

import pytest

from sluice.config import Settings
from sluice.engine.worker import Worker
from support.api_runs import make_worker


@pytest.fixture
def worker(settings: Settings) -> Worker:
    return make_worker(settings)
