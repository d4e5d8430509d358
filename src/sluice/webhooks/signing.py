"""HMAC-SHA256 signatures of webhook deliveries, and their verification.

The signed content is `{timestamp}.{raw body}`: binding the timestamp into the signature is
what lets a receiver refuse a replayed delivery (a captured request re-sent later keeps its
old timestamp, and changing it breaks the signature).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Sluice-Signature"
TIMESTAMP_HEADER = "X-Sluice-Timestamp"
EVENT_HEADER = "X-Sluice-Event"
EVENT_ID_HEADER = "X-Sluice-Event-Id"
DELIVERY_ID_HEADER = "X-Sluice-Delivery-Id"
SCHEME = "sha256"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Sluice-Signature` value: `sha256=<hex>`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature_header: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when the signature matches and the timestamp is within the tolerance of now."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header.strip())
