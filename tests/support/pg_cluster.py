"""A PostgreSQL cluster of the test's own (initdb + pg_ctl on a free port in a temp dir), for
tests that stop or restart the metadata database without touching the shared server.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` OS user
(commands through `runuser`); otherwise it runs as the current user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from support.net import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (/usr/lib/postgresql/*/bin)")
    return found[-1]


def _as_owner(command: Sequence[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def _run(command: Sequence[str]) -> None:
    done = subprocess.run(_as_owner(command), capture_output=True, text=True, timeout=120,
                          check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}\n{done.stderr}")


@dataclass(frozen=True)
class OwnPostgres:
    data: Path
    port: int

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database (trust auth on 127.0.0.1)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop at once (as a crash would: every connection dropped, no checkpoint), stay
        down for `down_seconds`, start."""
        _run([_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        time.sleep(down_seconds)
        self.start()

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        _run([_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
              str(self.data / "server.log"), "-w", "start"])


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """A started cluster, removed at the end."""
    # Not under pytest's tmp_path: its folders are the test user's alone (mode 700).
    root = Path(tempfile.mkdtemp(prefix="sluice-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = OwnPostgres(data, free_port())
    try:
        _run([_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
              "-E", "UTF8", "--locale=C"])
        cluster.start()
        yield cluster
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "immediate",
                                      "-w", "stop"]), capture_output=True, check=False,
                           timeout=60)
        shutil.rmtree(root, ignore_errors=True)
