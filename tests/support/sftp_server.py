"""A real SFTP server for the tests: asyncssh on loopback, in a background thread.

Each server has a fresh host key, one user who may log in with a password or a key, and an
SFTP subsystem chrooted to its own folder (`root`), so tests write files there directly and
give them the modification times they need (`os.utime`).
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

HOST = "127.0.0.1"
USERNAME = "sluice-test"
# Recognizable, so a leak into any message is caught; characters special in URLs on purpose.
PASSWORD = "Sftp-Pa55:w@rd/Secret"
KEY_PASSPHRASE = "Key-Pa55phrase#Secret"
_START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class SftpServer:
    host: str
    port: int
    username: str
    password: str
    root: Path  # the folder SFTP clients see as "/"
    client_key_pem: str  # an OpenSSH private key the server accepts, unencrypted
    client_key_encrypted_pem: str  # the same key as encrypted PKCS#8, with KEY_PASSPHRASE
    host_key_fingerprint: str  # "SHA256:..." of the server's host key
    open_connections: Callable[[], int]  # how many SSH connections are open right now
    auth_attempts: Callable[[], int]  # how many logins clients have begun so far

    def password_auth(self, **overrides: Any) -> dict[str, Any]:
        """Auth params of "Basic Authentication for SFTP" for this server."""
        return {"host": self.host, "port": self.port, "username": self.username,
                "password": self.password, **overrides}

    def write(self, relative: str, content: bytes | str, mtime: float | None = None) -> Path:
        """A file under the served folder, with modification time `mtime` if given."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    def key_auth(self, **overrides: Any) -> dict[str, Any]:
        """Auth params of "SSH Public Key Authentication for SFTP" (key sent base64-encoded)."""
        encoded = base64.b64encode(self.client_key_pem.encode()).decode()
        return {"host": self.host, "port": self.port, "username": self.username,
                "privateKeyContent": encoded, **overrides}


@dataclass
class _Activity:
    """What the server has seen: its open connections, and how many logins began."""

    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)
    auth_attempts: int = 0


class _Server(asyncssh.SSHServer):
    """Password auth for USERNAME; public-key auth is checked by asyncssh against the
    authorized keys given to `create_server`. Open connections are kept in `connections`
    so tests can see that a client left none behind, and teardown can close them."""

    def __init__(self, activity: _Activity) -> None:
        self._activity = activity
        self._connection: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn
        self._activity.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._activity.connections.discard(self._connection)  # type: ignore[arg-type]

    def begin_auth(self, username: str) -> bool:
        self._activity.auth_attempts += 1
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USERNAME and secrets.compare_digest(password, PASSWORD)


async def _start(root: Path, client_key: asyncssh.SSHKey, host_key: asyncssh.SSHKey,
                 activity: _Activity) -> asyncssh.SSHAcceptor:
    authorized = asyncssh.import_authorized_keys(
        client_key.export_public_key().decode())
    return await asyncssh.create_server(
        lambda: _Server(activity),
        HOST,
        0,
        server_host_keys=[host_key],
        authorized_client_keys=authorized,
        sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(root).encode()),
        allow_scp=False,
    )


async def _stop(acceptor: asyncssh.SSHAcceptor, activity: _Activity) -> None:
    acceptor.close()
    for connection in list(activity.connections):
        connection.close()
        await connection.wait_closed()
    await acceptor.wait_closed()


@contextmanager
def running_sftp_server(root: Path) -> Iterator[SftpServer]:
    """An SFTP server chrooted to `root` (created if missing), stopped on exit."""
    root.mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sftp-test-server", daemon=True)
    thread.start()
    activity = _Activity()
    started: Future[asyncssh.SSHAcceptor] = asyncio.run_coroutine_threadsafe(
        _start(root, client_key, host_key, activity), loop)
    try:
        acceptor = started.result(timeout=_START_TIMEOUT_SECONDS)
        try:
            yield SftpServer(
                host=HOST,
                port=acceptor.get_port(),
                username=USERNAME,
                password=PASSWORD,
                root=root,
                client_key_pem=client_key.export_private_key().decode(),
                client_key_encrypted_pem=client_key.export_private_key(
                    "pkcs8-pem", passphrase=KEY_PASSPHRASE).decode(),
                host_key_fingerprint=host_key.get_fingerprint("sha256"),
                open_connections=lambda: len(activity.connections),
                auth_attempts=lambda: activity.auth_attempts,
            )
        finally:
            asyncio.run_coroutine_threadsafe(_stop(acceptor, activity), loop).result(
                timeout=_START_TIMEOUT_SECONDS)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_START_TIMEOUT_SECONDS)
        loop.close()

