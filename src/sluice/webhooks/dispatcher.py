"""The webhook dispatcher: posts due deliveries, signed, and retries failures with backoff.

Runs as a thread next to the engine's workers (`sluice serve`, `sluice scheduler`); several
dispatchers on one metadata database share the work through claims (`deliveries`).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from sluice import __version__
from sluice.config import Settings
from sluice.connectors.contract import ConnectorContext
from sluice.connectors.host_guard import HostRefusedError, guard_url
from sluice.domain.errors import ConfigurationError
from sluice.security.encryption import SecretBox
from sluice.store import clock
from sluice.webhooks import deliveries, signing
from sluice.webhooks.deliveries import AttemptResult, ClaimedDelivery, Sessions

log = logging.getLogger(__name__)

USER_AGENT = f"Sluice-Webhooks/{__version__}"
_PRUNE_EVERY_SECONDS = 600.0
_ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard the dispatcher tries. The defaults retry for about three hours."""

    timeout_seconds: float = 5.0
    max_attempts: int = 10
    backoff_seconds: float = 10.0
    backoff_max_seconds: float = 3600.0
    # Up to this share is added to each delay at random, so that the deliveries a receiver
    # outage piled up do not all come back in the same second.
    jitter: float = 0.1

    def retry_delay_seconds(self, attempts: int) -> float:
        """Delay after the `attempts`-th failed attempt: base, 2 x base, 4 x base, ... capped."""
        delay = min(self.backoff_seconds * 2.0 ** max(attempts - 1, 0), self.backoff_max_seconds)
        return delay * (1 + random.uniform(0, self.jitter))  # noqa: S311 - not cryptographic

    @property
    def lease_ms(self) -> int:
        """A claim outlives the slowest possible attempt by a wide margin."""
        return int((self.timeout_seconds * 2 + 30) * 1000)


def canonical_body(payload: dict[str, object]) -> bytes:
    """The exact bytes posted (and signed): the same for every attempt of a delivery."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


Post = Callable[[str, bytes, dict[str, str], float], int]


def post_with_httpx(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """One POST; redirects are not followed (a 3xx is a failed attempt)."""
    response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    return response.status_code


class WebhookDispatcher:
    """Claims due deliveries in batches and posts them on a small thread pool."""

    def __init__(
        self,
        sessions: Sessions,
        secret_box: SecretBox,
        policy: DeliveryPolicy | None = None,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 16,
        concurrency: int = 4,
        retention_ms: int = 7 * 86_400_000,
        post: Post = post_with_httpx,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        self.sessions = sessions
        self.secret_box = secret_box
        self.policy = policy or DeliveryPolicy()
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.retention_ms = retention_ms
        self._post = post
        # Checked again before every post: a name may resolve elsewhere than when the
        # subscription was saved. Only the allow list matters for URLs (no database).
        self._guard_context = ConnectorContext(
            allowed_file_roots=(),
            lake_dir=Path(),
            metadata_database_url="",
            allowed_hosts=tuple(allowed_hosts),
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass -------------------------------------------------------------------------

    def run_once(self, *, now_ms: int | None = None) -> int:
        """Claim and attempt one batch of due deliveries; returns how many were attempted."""
        now = clock.now_ms() if now_ms is None else now_ms
        batch = deliveries.claim_due(
            self.sessions, now_ms=now, lease_ms=self.policy.lease_ms, limit=self.batch_size
        )
        if not batch:
            return 0
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch))) as pool:
            list(pool.map(self.deliver, batch))
        return len(batch)

    def deliver(self, claimed: ClaimedDelivery) -> str | None:
        """Post one delivery and record the outcome; returns the delivery's new status."""
        result = self._attempt(claimed)
        attempts = claimed.attempts + 1
        retry_at = None
        if not result.succeeded and attempts < self.policy.max_attempts:
            delay = self.policy.retry_delay_seconds(attempts)
            retry_at = result.at_ms + result.duration_ms + int(delay * 1000)
        status = deliveries.record_attempt(self.sessions, claimed, result, retry_at_ms=retry_at)
        if not result.succeeded:
            log.warning(
                "Webhook %s: delivery %s of %s failed (attempt %d, %s): %s",
                claimed.webhook_id,
                claimed.id,
                claimed.event_type,
                attempts,
                "retrying" if retry_at else "giving up",
                result.error or f"HTTP {result.status_code}",
            )
        return status

    def _attempt(self, claimed: ClaimedDelivery) -> AttemptResult:
        started_ms = clock.now_ms()
        started = time.monotonic()

        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            secret = str(self.secret_box.open(claimed.sealed_secret).get("secret", ""))
        except ConfigurationError as error:
            return AttemptResult(started_ms, 0, error=error.message)
        try:
            guard_url(self._guard_context, claimed.url)
        except HostRefusedError as refused:
            return AttemptResult(started_ms, 0, error=f"refused: {refused}"[:_ERROR_TEXT_LIMIT])
        body = canonical_body(claimed.payload)
        timestamp = str(started_ms // 1000)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.EVENT_HEADER: claimed.event_type,
            signing.EVENT_ID_HEADER: claimed.event_id,
            signing.DELIVERY_ID_HEADER: claimed.id,
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.signature(secret, timestamp, body),
        }
        try:
            status_code = self._post(claimed.url, body, headers, self.policy.timeout_seconds)
        except httpx.TimeoutException:
            return AttemptResult(
                started_ms,
                elapsed_ms(),
                error=f"no response within {self.policy.timeout_seconds:g}s",
            )
        except Exception as error:
            # Refused connections, DNS, TLS, a URL httpx will not send to: all failed attempts
            # recorded in the log, never a delivery stuck in its claim.
            text = f"{type(error).__name__}: {error}"[:_ERROR_TEXT_LIMIT]
            return AttemptResult(started_ms, elapsed_ms(), error=text)
        error_text = None if 200 <= status_code < 300 else f"HTTP {status_code}"
        return AttemptResult(started_ms, elapsed_ms(), status_code=status_code, error=error_text)

    def prune(self, *, now_ms: int | None = None) -> int:
        now = clock.now_ms() if now_ms is None else now_ms
        return deliveries.prune(self.sessions, older_than_ms=now - self.retention_ms)

    # -- as a service ---------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        last_prune = 0.0
        while not stop.is_set():
            try:
                worked = self.run_once()
                if time.monotonic() - last_prune >= _PRUNE_EVERY_SECONDS:
                    self.prune()
                    last_prune = time.monotonic()
            except Exception:
                # The database may be briefly unreachable; the deliveries wait in it.
                log.exception("Webhook dispatcher pass failed; retrying.")
                worked = 0
            if not worked:
                stop.wait(self.poll_seconds)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("This dispatcher was already started.")
        self._thread = threading.Thread(
            target=self.run_forever, args=(self._stop,), name="sluice-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """No new claims; posts in flight end within the delivery timeout."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def dispatcher_from_settings(
    settings: Settings, sessions: Sessions, secret_box: SecretBox
) -> WebhookDispatcher | None:
    """The dispatcher this process runs, or None when `SLUICE_WEBHOOK_DELIVERY` is off."""
    if not settings.webhook_delivery:
        return None
    return WebhookDispatcher(
        sessions,
        secret_box,
        DeliveryPolicy(
            timeout_seconds=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            backoff_max_seconds=settings.webhook_backoff_max_seconds,
        ),
        poll_seconds=settings.webhook_poll_seconds,
        retention_ms=int(settings.webhook_retention_days * 86_400_000),
        allowed_hosts=settings.connector_allowed_host_list,
    )
