"""What the embedded server does when it starts again after a crash.

The embedded mode is one `sluice serve` process that owns its data dir: the SQLite metadata
file and the lake. Its local workers therefore take an identity kept in that data dir (and
locked while the process lives), so that, on restart, the process knows which in-progress
claims were its own: no other process can still hold them, so they are released at once
instead of after a full lease. With the same lock held and no worker started yet, nobody can
be staging files in the lake, so the Parquet files a killed attempt wrote but never
committed are removed too (lake/orphans decides which files are unreferenced).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sluice.engine.claims import Sessions, release_claims_of
from sluice.lake.orphans import delta_tables_under, remove_orphan_files
from sluice.store import clock

log = logging.getLogger(__name__)

IDENTITY_FILE = "worker-identity"
_IDENTITY = re.compile(r"embedded-[0-9a-f]{16}")


@dataclass
class EmbeddedIdentity:
    """The data dir's worker identity; `handle` holds its lock until the process ends."""

    name: str
    handle: IO[str]

    def close(self) -> None:
        self.handle.close()


def take_identity(data_dir: Path) -> EmbeddedIdentity | None:
    """The data dir's identity, locked for this process; None if another live process holds
    it (then this one must not treat the claims as its own)."""
    path = data_dir / IDENTITY_FILE
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+", encoding="ascii")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    name = handle.read().strip()
    if not _IDENTITY.fullmatch(name):
        name = f"embedded-{secrets.token_hex(8)}"
        handle.seek(0)
        handle.truncate()
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return EmbeddedIdentity(name, handle)


@dataclass(frozen=True)
class Recovered:
    claims_released: int
    orphan_files_removed: int


def recover(sessions: Sessions, identity: EmbeddedIdentity, lake_dir: Path | None) -> Recovered:
    """Release this identity's claims and sweep the (local) lake; call before any worker
    starts. No lake folder: claims only."""
    started_ms = clock.now_ms()
    released = release_claims_of(sessions, identity.name)
    removed = sum(
        len(remove_orphan_files(table, written_before_ms=started_ms))
        for table in (delta_tables_under(lake_dir) if lake_dir is not None else ())
    )
    if released or removed:
        log.info(
            "Recovered after a restart: %d run(s) released for retry, %d orphan file(s) removed.",
            released,
            removed,
        )
    return Recovered(released, removed)
