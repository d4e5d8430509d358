"""The SFTP files connector: files on an SSH server, reached through sshfs (asyncssh).

A connection logs in with a password or a private key. The server's host key is checked
against `hostKeyFingerprint` (SHA256) when the connection gives one; without it any host key
is accepted, which protects nothing against a machine impersonating the server on the path
(the trade-off is documented in docs/connectors/sftp.md). Either way the fingerprint is
checked during the key exchange, before any credential is sent.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
import stat
import weakref
from collections.abc import Mapping
from typing import Any

import asyncssh
from fsspec.asyn import sync
from sshfs import SSHFileSystem

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed
from sluice.connectors.files.connector import file_connector
from sluice.connectors.files.location import FileLocation
from sluice.connectors.files.sftp_spec import DEFAULT_PORT, FINGERPRINT_PATTERN, SPEC
from sluice.connectors.host_guard import guard_host

# TCP connect, key exchange and login together; an unreachable host fails within this.
CONNECT_TIMEOUT_SECONDS = 10


def _private_key(params: Mapping[str, Any]) -> asyncssh.SSHKey:
    """The connection's private key; ConnectionTestFailed (naming no key material) if the
    content is not a key, or its passphrase is missing or wrong."""
    content = str(params.get("privateKeyContent", "")).strip()
    passphrase = params.get("passPhrase") or None
    key_data: bytes | str = content
    if "-----BEGIN" not in content:
        try:
            key_data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise ConnectionTestFailed(
                "privateKeyContent is neither a PEM private key nor base64 of one."
            ) from None
    try:
        return asyncssh.import_private_key(key_data, passphrase)
    except (asyncssh.KeyImportError, ValueError) as error:
        if passphrase is None and "passphrase" in str(error).lower():
            raise ConnectionTestFailed(
                "The private key is encrypted: give its passPhrase."
            ) from None
        if passphrase is not None:
            raise ConnectionTestFailed(
                "privateKeyContent could not be read with the given passPhrase: the passPhrase"
                " is wrong, or the content is not a private key."
            ) from None
        raise ConnectionTestFailed(
            "privateKeyContent is not a private key Sluice can read (OpenSSH, PKCS#1 or PKCS#8)."
        ) from None


def _credentials(params: Mapping[str, Any]) -> dict[str, Any]:
    """asyncssh's login options: the key, or the password; never the server's own keys,
    agent or ~/.ssh/config, which are not the tenant's."""
    common: dict[str, Any] = {"agent_path": None, "config": []}
    if params.get("privateKeyContent"):
        return {**common, "client_keys": [_private_key(params)], "password": None}
    return {**common, "client_keys": None, "password": str(params.get("password", ""))}


def _normalized_fingerprint(fingerprint: str) -> str:
    return fingerprint.strip().removeprefix("SHA256:").rstrip("=")


class _PinnedHostKey(asyncssh.SSHClient):
    """Accepts only the host key whose SHA256 fingerprint is `expected`, and remembers the
    fingerprint the server offered, for the error message."""

    def __init__(self, expected: str, offered: list[str]) -> None:
        self._expected = expected
        self._offered = offered

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        fingerprint = key.get_fingerprint("sha256")
        self._offered.append(fingerprint)
        return _normalized_fingerprint(fingerprint) == self._expected


def _host_key_options(params: Mapping[str, Any], offered: list[str]) -> dict[str, Any]:
    """asyncssh options checking the host key against hostKeyFingerprint, if given."""
    fingerprint = params.get("hostKeyFingerprint")
    if not fingerprint:
        return {"known_hosts": None}  # any host key: see the module docstring
    if not re.match(FINGERPRINT_PATTERN, str(fingerprint).strip()):
        raise ConnectionTestFailed(
            "hostKeyFingerprint must be a SHA256 fingerprint such as SHA256:47DEQpj8HBSa+/TIm"
            "W+5JCeuQeRkm5NMpJWZG3hSuFU."
        )
    expected = _normalized_fingerprint(str(fingerprint))
    # Empty trusted lists make asyncssh ask the client object about every host key.
    return {
        "known_hosts": ([], [], []),
        "client_factory": lambda: _PinnedHostKey(expected, offered),
    }


def _display(host: str, port: int, root: str = "") -> str:
    shown_host = f"[{host}]" if ":" in host else host
    return f"sftp://{shown_host}:{port}{root}"


def _root(fs: SSHFileSystem, root_path: str | None) -> tuple[str, bool]:
    """The absolute root folder (rootPath resolved by the server, relative to the user's
    home; or the home folder itself), and whether it is a folder. SFTPNoSuchFile if it does
    not exist."""

    async def resolve() -> tuple[str, bool]:
        async with fs.client.start_sftp_client() as sftp:
            resolved = str(await sftp.realpath(root_path or "."))
            attributes = await sftp.stat(resolved)
            return resolved, stat.S_ISDIR(attributes.permissions or 0)

    resolved, is_folder = sync(fs.loop, resolve)
    return posixpath.normpath(str(resolved)), bool(is_folder)


def disconnect(fs: SSHFileSystem) -> None:
    """Close the filesystem's SSH connection now, rather than when it is garbage-collected."""

    async def close() -> None:
        fs.client.close()
        await fs.client.wait_closed()

    sync(fs.loop, close)


def validate_auth(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """What can be checked without reaching the server: the host, the key, the fingerprint."""
    guard_host(
        context, str(params.get("host", "")).strip(), int(params.get("port") or DEFAULT_PORT)
    )
    _credentials(params)
    _host_key_options(params, [])


def open_sftp(context: ConnectorContext, params: Mapping[str, Any]) -> FileLocation:
    """Log in to the connection's server (host guarded, host key checked if pinned)."""
    host = str(params.get("host", "")).strip()
    port = int(params.get("port") or DEFAULT_PORT)
    username = str(params.get("username", ""))
    guard_host(context, host, port)
    offered: list[str] = []
    options = {**_credentials(params), **_host_key_options(params, offered)}
    try:
        fs = SSHFileSystem(
            host,
            port=port,
            username=username,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            skip_instance_cache=True,  # one connection per open: no stale cached session
            **options,
        )
    except PermissionError:
        raise ConnectionTestFailed(
            f"{_display(host, port)} refused the login of user {username!r}: check the"
            " username and the password or key."
        ) from None
    except asyncssh.HostKeyNotVerifiable:
        shown = offered[-1] if offered else "an unknown key"
        raise ConnectionTestFailed(
            f"{_display(host, port)} presented the host key {shown}, not the one"
            " hostKeyFingerprint names: the server changed its key, or another machine"
            " answers for it. No credential was sent to it."
        ) from None
    # The root is checked here rather than left to the reader, so that the connection of a
    # connection that cannot work is closed at once.
    root_path = params.get("rootPath")
    try:
        root, is_folder = _root(fs, str(root_path) if root_path else None)
    except asyncssh.SFTPNoSuchFile:
        disconnect(fs)
        raise ConnectionTestFailed(
            f"The folder {root_path!r} does not exist on {_display(host, port)}."
        ) from None
    except asyncssh.SFTPPermissionDenied:
        disconnect(fs)
        raise ConnectionTestFailed(
            f"User {username!r} may not open the folder {root_path or '~'!r} on"
            f" {_display(host, port)}."
        ) from None
    except BaseException:
        disconnect(fs)
        raise
    if not is_folder:
        disconnect(fs)
        raise ConnectionTestFailed(f"{_display(host, port, root)!r} is a file, not a folder.")
    location = FileLocation(fs=fs, root=root, display=_display(host, port, root))
    # The filesystem sits in reference cycles (fsspec's sync wrappers) that only the cycle
    # collector frees, maybe minutes later, holding the SSH connection open until then. The
    # location is not in a cycle: it is freed as soon as the read, listing or test using it
    # lets go, and the connection is closed then.
    # close() runs the finalizer now; otherwise it runs when the location is freed.
    location.closer = weakref.finalize(location, fs.loop.call_soon_threadsafe, fs.client.close)
    return location


CONNECTOR = file_connector(
    SPEC,
    opener=open_sftp,
    validate_auth=validate_auth,
)
