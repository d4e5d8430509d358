"""Python client for Sluice's HTTP API (and any Flow Service compatible endpoint)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

FLOW_SERVICE_PATH = "/data/foundation/flowservice"
CATALOG_PATH = "/data/foundation/catalog"
SANDBOXES_PATH = "/data/foundation/sandbox-management/sandboxes"
TOKEN_PATH = "/ims/token/v3"  # noqa: S105 - a path, not a secret
# Refresh a token this long before it expires, so a request never races its expiry.
_TOKEN_MARGIN_SECONDS = 60.0

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Credentials:
    """What `credentials.json` holds: enough to get a token and address one sandbox."""

    org_id: str
    client_id: str
    client_secret: str = field(repr=False)
    sandbox_name: str = "prod"

    @classmethod
    def read(cls, path: Path) -> Credentials:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path} does not hold a JSON object")
        missing = [k for k in ("orgId", "clientId", "clientSecret") if not data.get(k)]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}")
        return cls(
            str(data["orgId"]),
            str(data["clientId"]),
            str(data["clientSecret"]),
            str(data.get("sandboxName") or "prod"),
        )

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "orgId": self.org_id,
                    "clientId": self.client_id,
                    "clientSecret": self.client_secret,
                    "sandboxName": self.sandbox_name,
                },
                indent=2,
            )
            + "\n"
        )


class SluiceApiError(Exception):
    """A call failed; `code` is the problem code (`FLOW-1439-404`) or the gateway's error code."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id

    @classmethod
    def from_response(cls, response: httpx.Response) -> SluiceApiError:
        request_id = response.headers.get("x-request-id")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = response.text.strip()[:300] or response.reason_phrase
            return cls(response.status_code, f"HTTP-{response.status_code}", text, request_id)
        if "error_code" in body:  # gateway style
            return cls(
                response.status_code,
                str(body["error_code"]),
                str(body.get("message", "")),
                request_id,
            )
        report = body.get("report")
        if not isinstance(report, dict):
            report = {}
        if "type" in body:  # problem document
            code = str(body["type"]).rstrip("/").rsplit("/", 1)[-1]
            message = (
                report.get("detailed-message") or body.get("detail") or body.get("title") or ""
            )
            return cls(
                response.status_code, code, str(message), report.get("request-id") or request_id
            )
        if "error" in body:  # OAuth style (token endpoint)
            return cls(
                response.status_code,
                str(body["error"]),
                str(body.get("error_description", "")),
                request_id,
            )
        return cls(
            response.status_code, f"HTTP-{response.status_code}", json.dumps(body)[:300], request_id
        )


def resolve_path(path: str) -> str:
    """Absolute API paths and URLs pass through; others are relative to the flow service."""
    if path.startswith(("/data/", "/ims/", "http://", "https://")):
        return path
    return FLOW_SERVICE_PATH + "/" + path.lstrip("/")


class SluiceClient:
    """Synchronous client; fetches a bearer token, refreshes it before expiry and on a 401."""

    def __init__(
        self,
        base_url: str,
        org_id: str,
        client_id: str,
        client_secret: str,
        sandbox: str = "prod",
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.org_id = org_id
        self.client_id = client_id
        self.sandbox = sandbox
        self._secret = client_secret
        self._http = http or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self._token: str | None = None
        self._token_deadline = 0.0

    @classmethod
    def from_credentials_file(cls, path: Path | str, base_url: str, **kwargs: Any) -> Self:
        creds = Credentials.read(Path(path))
        return cls(
            base_url,
            creds.org_id,
            creds.client_id,
            creds.client_secret,
            creds.sandbox_name,
            **kwargs,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- auth ---------------------------------------------------------------------------

    def fetch_token(self) -> str:
        response = self._http.post(
            TOKEN_PATH,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret,
            },
        )
        if response.status_code != 200:
            raise SluiceApiError.from_response(response)
        body = response.json()
        self._token = str(body["access_token"])
        ttl = float(body.get("expires_in", 3600))
        self._token_deadline = time.monotonic() + max(ttl - _TOKEN_MARGIN_SECONDS, ttl / 2)
        return self._token

    def _bearer(self) -> str:
        if self._token is None or time.monotonic() >= self._token_deadline:
            return self.fetch_token()
        return self._token

    def _headers(self, token: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": self.org_id,
            "x-sandbox-name": self.sandbox,
            **(extra or {}),
        }

    # -- requests -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one call; any non-2xx answer raises SluiceApiError."""
        url = resolve_path(path)
        response = self._http.request(
            method, url, params=params, json=json, headers=self._headers(self._bearer(), headers)
        )
        if response.status_code == 401:  # revoked or expired early: one fresh token, one retry
            response = self._http.request(
                method,
                url,
                params=params,
                json=json,
                headers=self._headers(self.fetch_token(), headers),
            )
        if response.is_error:
            raise SluiceApiError.from_response(response)
        return response

    def get(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params).json()

    def get_item(self, path: str) -> JsonObject:
        """GET one resource and unwrap the `{"items": [...]}` envelope."""
        body = self.get(path)
        items = body.get("items") if isinstance(body, dict) else None
        if isinstance(items, list) and items:
            item: JsonObject = items[0]
            return item
        return body if isinstance(body, dict) else {"value": body}

    def post(self, path: str, body: Any = None, params: Any = None) -> Any:
        response = self.request("POST", path, params=params, json=body)
        return response.json() if response.content else None

    def patch(self, path: str, operations: Sequence[Mapping[str, Any]], if_match: str) -> Any:
        response = self.request(
            "PATCH", path, json=list(operations), headers={"If-Match": if_match}
        )
        return response.json() if response.content else None

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def iter_list(
        self,
        path: str,
        property: Sequence[str] = (),
        orderby: str | None = None,
        limit: int | None = None,
    ) -> Iterator[JsonObject]:
        """Every item of a list, page by page (`limit` is the page size), following
        `_links.next.href` until it is absent or empty."""
        params: list[tuple[str, str | int]] = [("property", p) for p in property]
        if orderby:
            params.append(("orderby", orderby))
        if limit is not None:
            params.append(("limit", limit))
        next_path: str | None = path
        first = True
        while next_path:
            body = self.get(next_path, params if first else None)
            first = False
            yield from list_items(body)
            next_path = next_href(body)


def list_items(body: Any) -> list[JsonObject]:
    if not isinstance(body, dict):
        return []
    items = body.get("items")
    if isinstance(items, list):
        return items
    # Catalog and sandbox-management lists name their items after the resource.
    for value in body.values():
        if isinstance(value, list):
            return value
    return []


def next_href(body: Any) -> str | None:
    links = body.get("_links") if isinstance(body, dict) else None
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    return str(href) if href else None


TERMINAL_RUN_STATUSES = frozenset({"success", "failed", "cancelled"})


def run_status(run: JsonObject) -> str:
    summary = (run.get("metrics") or {}).get("statusSummary") or {}
    return str(summary.get("status", ""))


def wait_for_run(
    client: SluiceClient,
    run_id: str,
    *,
    on_progress: Callable[[JsonObject], None] | None = None,
    poll_seconds: float = 0.5,
    timeout_seconds: float | None = None,
) -> JsonObject:
    """Poll a run until it ends; `on_progress` sees every version of it on the way."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        run = client.get_item(f"runs/{run_id}")
        if on_progress is not None:
            on_progress(run)
        if run_status(run) in TERMINAL_RUN_STATUSES:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {run_status(run)} after {timeout_seconds}s")
        time.sleep(poll_seconds)
