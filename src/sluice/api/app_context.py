"""Process-wide objects the routes need, built once by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sluice.config import Settings
from sluice.connectors.contract import ConnectorContext
from sluice.security.encryption import SecretBox
from sluice.security.tokens import TokenSigner
from sluice.services.metadata_database import open_read_sessions
from sluice.services.source_connections import SourceChecker


def ignore_run_ready(_run_id: str) -> None:
    """No local worker and no broker to tell: workers elsewhere find new runs by polling."""


def no_runs_here() -> None:
    """This process runs no runs: nothing to load ahead of them."""


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    signer: TokenSigner
    secret_box: SecretBox
    # A hint to local workers that a run is ready (the database stays the source of truth).
    notify_run_ready: Callable[[str], None] = field(default=ignore_run_ready)
    # Runs are coming (a connection or a flow was just created, a flow enabled): with local
    # workers, load the run engine now rather than in the first run's time (`engine.warmup`).
    expect_runs: Callable[[], None] = field(default=no_runs_here)

    @property
    def notifies_run_ready(self) -> bool:
        return self.notify_run_ready is not ignore_run_ready

    @cached_property
    def connector_context(self) -> ConnectorContext:
        # Made once: every POST /runs needs it, and resolving the file roots (a realpath
        # each) was a few per cent of its CPU. The settings do not change while serving.
        return ConnectorContext(
            allowed_file_roots=tuple(Path(p) for p in self.settings.allowed_file_roots),
            lake_dir=self.settings.lake_dir,
            metadata_database_url=self.settings.resolved_database_url,
            allowed_hosts=self.settings.connector_allowed_host_list,
            lake=self.settings.lake,
        )

    @cached_property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions of the routes that only read: autocommit on PostgreSQL (no BEGIN and
        COMMIT round trips), the plain ones on SQLite."""
        return open_read_sessions(self.engine)

    def source_checker(self) -> SourceChecker:
        """What a source connection's create-time check needs (issue 13: a missing table or
        path is refused when the source is reachable)."""
        return SourceChecker(self.connector_context, self.secret_box)
