"""Encryption at rest of connection credentials (Fernet, rotation by key list)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from sluice.domain.errors import ConfigurationError


class SecretBox:
    """Encrypts with the first key, decrypts with any: add a new key first, re-encrypt with
    `rotate`, then drop the old key."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ConfigurationError("at least one Fernet key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, values: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode())

    def open(self, token: bytes | None) -> dict[str, Any]:
        if not token:
            return {}
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise ConfigurationError(
                "stored credentials cannot be decrypted with the configured keys"
            ) from exc
        return opened

    def rotate(self, token: bytes) -> bytes:
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise ConfigurationError(
                "a stored credential cannot be decrypted with any configured key; "
                "keep the old key in SLUICE_SECRET_KEYS until rotation has run"
            ) from exc
