"""What executing a run needs from the process it runs in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from sluice.config import Settings
from sluice.connectors.contract import ConnectorContext
from sluice.lake.location import LakeLocation
from sluice.security.encryption import SecretBox
from sluice.security.keys import load_key_ring
from sluice.store.db import make_engine, make_session_factory, upgrade_schema


@dataclass(frozen=True)
class EngineContext:
    sessions: sessionmaker[Session]
    secret_box: SecretBox
    connectors: ConnectorContext
    lake: LakeLocation
    # Progress is written at most this often while a run moves data.
    progress_interval_seconds: float = 1.0
    # Bad rows kept per run with their reason (all of them are counted).
    max_bad_rows_kept: int = 1000
    # Entries kept in a run's log (engine/run_log.py); the last says how many were dropped.
    max_log_entries: int = 500
    lease_ms: int = 60_000


def engine_context(
    settings: Settings, sessions: sessionmaker[Session] | None = None
) -> EngineContext:
    """For `sluice worker` / `sluice scheduler` processes, or the server's local workers."""
    lake = settings.lake  # an unusable or unsafe lake stops the process before anything runs
    if sessions is None:
        engine = make_engine(settings.resolved_database_url)
        upgrade_schema(engine)
        sessions = make_session_factory(engine)
    keys = load_key_ring(settings)
    return EngineContext(
        sessions=sessions,
        secret_box=SecretBox(keys.fernet_keys),
        connectors=ConnectorContext(
            allowed_file_roots=tuple(settings.allowed_file_roots),
            lake_dir=settings.lake_dir,
            metadata_database_url=settings.resolved_database_url,
            allowed_hosts=settings.connector_allowed_host_list,
            lake=lake,
        ),
        lake=lake,
        lease_ms=int(settings.lease_seconds * 1000),
    )
