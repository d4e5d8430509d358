"""Where the signing and encryption keys come from.

Keys never live in the metadata database. An operator passes them in the environment
(SLUICE_SECRET_KEYS, SLUICE_TOKEN_SIGNING_KEY); the embedded mode, and only it, generates
them once into a 0600 file in the data dir so that a first start needs no set-up.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from sluice.config import Settings
from sluice.domain.errors import ConfigurationError

KEYS_FILE_NAME = "keys.json"


@dataclass(frozen=True)
class KeyRing:
    fernet_keys: tuple[str, ...]
    token_signing_key: str


def write_private_file(path: Path, text: str) -> None:
    """Create or replace a file readable by its owner only, without a window where it is wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _generated_keys(data_dir: Path) -> dict[str, object]:
    path = data_dir / KEYS_FILE_NAME
    if path.exists():
        stored: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
        return stored
    fresh: dict[str, object] = {
        "fernetKeys": [Fernet.generate_key().decode()],
        "tokenSigningKey": secrets.token_urlsafe(48),
    }
    write_private_file(path, json.dumps(fresh, indent=2))
    return fresh


def load_key_ring(settings: Settings) -> KeyRing:
    """Keys from the environment, else (embedded mode only) from the data dir's key file."""
    env_fernet = [k.strip() for k in (settings.secret_keys or "").split(",") if k.strip()]
    env_signing = settings.token_signing_key
    if env_fernet and env_signing:
        return KeyRing(tuple(env_fernet), env_signing)
    if not settings.is_embedded:
        raise ConfigurationError(
            "SLUICE_SECRET_KEYS and SLUICE_TOKEN_SIGNING_KEY must be set when the metadata "
            "database is not the embedded SQLite file"
        )
    generated = _generated_keys(settings.data_dir)
    fernet_keys = env_fernet or [str(k) for k in generated["fernetKeys"]]  # type: ignore[attr-defined]
    signing = env_signing or str(generated["tokenSigningKey"])
    for key in fernet_keys:
        try:
            Fernet(key.encode())
        except ValueError as exc:
            raise ConfigurationError("SLUICE_SECRET_KEYS holds a malformed Fernet key") from exc
    return KeyRing(tuple(fernet_keys), signing)
