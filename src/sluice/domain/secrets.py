"""Masking of credential params: what a read shows instead of a secret."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "********"


def split_secrets(
    params: Mapping[str, Any], secret_fields: Iterable[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public params, secret params)."""
    secret_names = set(secret_fields)
    public = {k: v for k, v in params.items() if k not in secret_names}
    secret = {k: v for k, v in params.items() if k in secret_names}
    return public, secret


def masked(public: Mapping[str, Any], secret: Mapping[str, Any]) -> dict[str, Any]:
    return {**public, **{k: MASK for k in secret}}


def merge_patched_secrets(
    patched: Mapping[str, Any], previous_secret: Mapping[str, Any], secret_fields: Iterable[str]
) -> dict[str, Any]:
    """Full params after a patch: a secret still showing the mask keeps its stored value."""
    merged = dict(patched)
    for name in secret_fields:
        if merged.get(name) == MASK and name in previous_secret:
            merged[name] = previous_secret[name]
    return merged


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets` (those long enough to tell apart from ordinary words)
    nor the password of a URL or a `password=` setting quoted in it."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text)
    return re.sub(r"(://[^/@\s:]*:)[^@\s]*@", r"\1***@", text)


def secret_values(params: Mapping[str, Any], secret_fields: Iterable[str]) -> list[str]:
    """The values of `params` that are secrets, as text (what `redact` must hide)."""
    return [str(params[name]) for name in secret_fields if params.get(name)]
