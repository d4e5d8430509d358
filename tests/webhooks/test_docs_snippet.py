"""The signature check that docs/webhooks.md gives receivers accepts what Sluice sends."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sluice.webhooks import signing

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def documented_verifier() -> Callable[..., bool]:
    namespace: dict[str, Any] = {}
    exec(python_blocks()[0], namespace)  # our own documentation
    verifier: Callable[..., bool] = namespace["verify_sluice_signature"]
    return verifier


def test_the_documented_check_accepts_sluice_signatures_and_refuses_forgeries() -> None:
    verify = documented_verifier()
    secret, body = "a-secret-for-the-docs-test", b'{"id":"e1","type":"flow_run_failed"}'
    now = str(int(time.time()))
    header = signing.signature(secret, now, body)
    assert verify(secret, now, body, header)
    assert not verify(secret, now, body + b" ", header)
    assert not verify("another-secret-entirely", now, body, header)
    assert not verify(secret, str(int(now) + 1), body, header)  # the timestamp is signed
    stale = str(int(now) - 3600)
    assert not verify(secret, stale, body, signing.signature(secret, stale, body))  # a replay
    assert not verify(secret, "not-a-time", body, header)


def test_the_receiver_example_compiles() -> None:
    blocks = python_blocks()
    assert len(blocks) == 2
    compile(blocks[1], "receiver example", "exec")
