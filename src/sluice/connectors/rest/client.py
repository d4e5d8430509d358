"""GETting JSON from a REST source safely: every host guarded, redirects kept on the base URL's
host, bodies capped, 429 and 5xx retried with a bounded backoff, failures classified.

Requests go through one httpx client per read that sends the credentials on every request.
httpx never follows redirects here (`follow_redirects=False`): a redirect is followed by this
module only when it stays on the base URL's scheme, host and port, so neither the host guard
nor the credentials can be taken elsewhere by a `Location` header. The environment's proxy
settings and `.netrc` are ignored (`trust_env=False`): a tenant's requests go where the
connection says, with the credentials it holds.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import TerminalReadError, TransientReadError
from sluice.connectors.host_guard import HostRefusedError, guard_url
from sluice.connectors.rest.config import RestAuth, same_origin

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 5
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_SOURCE_CODE = "CONNECTOR-1001-500"
_CONTENT_CODE = "CONNECTOR-2001-500"


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per request; waits double from `backoff_seconds`. A `Retry-After` longer than
    `max_wait_seconds` is not waited for: the request fails as transient, and the run retries
    later as a whole."""

    attempts: int = 4
    backoff_seconds: float = 0.25
    max_wait_seconds: float = 30.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_seconds * 2 ** (attempt - 1), self.max_wait_seconds))


NO_RETRIES = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Response:
    """A 2xx answer, its JSON parsed."""

    url: str
    status_code: int
    body: Any
    size: int
    digest: str  # sha256 of the body: two pages that are the same page
    next_link: str | None  # the `Link: <...>; rel="next"` URL, absolute


def display(url: str) -> str:
    """The URL without its query, for messages: a query may hold a token."""
    return str(httpx.URL(url).copy_with(query=None, fragment=None))


def _size(count: int) -> str:
    mebibyte = 1024 * 1024
    return f"{count / mebibyte:g} MiB" if count >= mebibyte else f"{count / 1024:g} KiB"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class RestClient:
    """GETs of one REST connection; close it when done."""

    def __init__(
        self,
        context: ConnectorContext,
        auth: RestAuth,
        *,
        policy: RetryPolicy = RetryPolicy(),
        max_bytes: int = MAX_RESPONSE_BYTES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.context = context
        self.auth = auth
        self.policy = policy
        self.max_bytes = max_bytes
        self._sleep = sleep
        self._client = httpx.Client(
            headers=dict(auth.headers),
            auth=auth.httpx_auth,
            timeout=TIMEOUT,
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, params: Mapping[str, str] | None = None) -> Response:
        """GET `url` (with `params` added to its query) and parse its JSON; SourceReadError
        (terminal or transient) otherwise."""
        target = str(httpx.URL(url).copy_merge_params(dict(params or {})))
        redirects = 0
        attempt = 1
        while True:
            self._guard(target)
            outcome = self._attempt(target, attempt)
            if isinstance(outcome, Response):
                return outcome
            if isinstance(outcome, str):  # a same-host redirect
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise TerminalReadError(
                        f"GET {display(url)} was redirected more than {MAX_REDIRECTS} times.",
                        code=_SOURCE_CODE,
                    )
                target = outcome
                continue
            self._sleep(outcome)
            attempt += 1

    def status_of(self, url: str) -> int:
        """The status of one GET of `url` (redirects not followed, body not read);
        SourceReadError when the server cannot be reached."""
        self._guard(url)
        failure: str
        try:
            with self._client.stream("GET", url) as response:
                return response.status_code
        except httpx.TimeoutException:
            failure = f"no answer within {TIMEOUT.read:g}s"
        except httpx.TransportError as error:
            failure = f"the server cannot be reached ({type(error).__name__}: {error})"
        raise TransientReadError(f"GET {display(url)}: {failure}.", code=_SOURCE_CODE)

    def _guard(self, url: str) -> None:
        try:
            guard_url(self.context, url)
        except HostRefusedError as error:
            raise TerminalReadError(str(error), code=_SOURCE_CODE) from None

    def _attempt(self, url: str, attempt: int) -> Response | str | float:
        """A Response; a redirect's URL to follow; or the seconds to wait before a retry."""
        shown = display(url)
        failure: str
        try:
            with self._client.stream("GET", url) as response:
                status = response.status_code
                if 200 <= status < 300:
                    return self._parsed(response, url, shown)
                if 300 <= status < 400:
                    return self._redirect(response, url, shown)
                if status in (401, 403):
                    raise TerminalReadError(
                        f"GET {shown}: the server answered HTTP {status}: authentication "
                        "refused. Check the connection's credentials.",
                        code=_SOURCE_CODE,
                    )
                if status not in _RETRIED_STATUSES:
                    raise TerminalReadError(
                        f"GET {shown}: the server answered HTTP {status}"
                        + (" (not found); check the endpoint." if status == 404 else "."),
                        code=_SOURCE_CODE,
                    )
                failure = f"the server answered HTTP {status}"
                wait = _retry_after(response)
        except httpx.TimeoutException:
            failure, wait = f"no answer within {TIMEOUT.read:g}s", None
        except httpx.TransportError as error:
            failure, wait = f"the server cannot be reached ({type(error).__name__}: {error})", None
        if wait is not None and wait > self.policy.max_wait_seconds:
            raise TransientReadError(
                f"GET {shown}: {failure} and asked to retry in {wait:.0f}s; the run will retry.",
                code=_SOURCE_CODE,
            )
        if attempt >= self.policy.attempts:
            raise TransientReadError(
                f"GET {shown}: {failure} ({attempt} attempt{'s' if attempt > 1 else ''}).",
                code=_SOURCE_CODE,
            )
        return self.policy.backoff(attempt) if wait is None else wait

    def _redirect(self, response: httpx.Response, url: str, shown: str) -> str:
        location = response.headers.get("Location")
        if not location:
            raise TerminalReadError(
                f"GET {shown}: the server answered HTTP {response.status_code} without a Location.",
                code=_SOURCE_CODE,
            )
        target = str(httpx.URL(url).join(location))
        if not same_origin(target, self.auth.base_url):
            host = httpx.URL(target).host or "?"
            raise TerminalReadError(
                f"GET {shown} was redirected to another host ({host}); Sluice follows redirects "
                "only on the base URL's host. Point baseUrl at the final host.",
                code=_SOURCE_CODE,
            )
        return target

    def _parsed(self, response: httpx.Response, url: str, shown: str) -> Response:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise TerminalReadError(
                    f"GET {shown}: the response is larger than {_size(self.max_bytes)}; use a "
                    "smaller page size.",
                    code=_CONTENT_CODE,
                )
            chunks.append(chunk)
        content = b"".join(chunks)
        try:
            body = json.loads(content)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise TerminalReadError(
                f"GET {shown}: the response is not JSON ({kind}); check the endpoint.",
                code=_CONTENT_CODE,
            ) from None
        next_url = response.links.get("next", {}).get("url")
        return Response(
            url=url,
            status_code=response.status_code,
            body=body,
            size=size,
            digest=hashlib.sha256(content).hexdigest(),
            next_link=str(httpx.URL(url).join(next_url)) if next_url else None,
        )
