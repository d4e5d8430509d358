"""HTTP calls with the Flow Service headers: bearer token (fetched and refreshed), API key,
org and sandbox; paging through `_links.next.href`."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from sluice.client.errors import SluiceApiError

FLOW_SERVICE_PATH = "/data/foundation/flowservice"
CATALOG_PATH = "/data/foundation/catalog"
SANDBOXES_PATH = "/data/foundation/sandbox-management/sandboxes"
TOKEN_PATH = "/ims/token/v3"  # noqa: S105 - a path, not a secret
# The Catalog's largest page.
CATALOG_PAGE_SIZE = 100
# Refresh a token this long before it expires, so a request never races its expiry.
_TOKEN_MARGIN_SECONDS = 60.0

JsonObject = dict[str, Any]


def resolve_path(path: str) -> str:
    """Absolute API paths and URLs pass through; others are relative to the flow service."""
    if path.startswith(("/data/", "/ims/", "http://", "https://")):
        return path
    return FLOW_SERVICE_PATH + "/" + path.lstrip("/")


def service_root(path: str) -> str:
    """`/data/foundation/flowservice`: the service a path belongs to (its hrefs are relative
    to it)."""
    parts = resolve_path(path).split("?", 1)[0].split("/")
    return "/".join(parts[:4]) if parts[1:3] == ["data", "foundation"] else FLOW_SERVICE_PATH


def follow_href(href: str, service_path: str) -> str:
    """The path of a link found in a response of `service_path`: service-relative hrefs
    (`/connections?continuationToken=...`) are joined to that service's root, exactly as
    base URL + href; `/data/...` paths and full URLs are already whole."""
    if href.startswith(("/data/", "/ims/", "http://", "https://")):
        return href
    return service_root(service_path) + "/" + href.lstrip("/")


def catalog_items(body: Any) -> list[JsonObject]:
    """A Catalog answer (`{"<id>": {...}, ...}`) as items that carry their `id`."""
    if not isinstance(body, dict):
        return []
    return [{"id": key, **value} for key, value in body.items() if isinstance(value, dict)]


# The Flow Service's names of the Catalog's time fields, as a user of both writes them.
_CATALOG_FIELDS = {"createdAt": "created", "updatedAt": "updated"}


def catalog_order(orderby: str) -> str:
    """The Catalog's `orderBy` from either spelling: `-createdAt` -> `desc:created`."""
    parts = []
    for part in orderby.split(","):
        part = part.strip()
        direction = ""
        if part[:1] in ("-", "+"):
            direction, part = ("desc:" if part[0] == "-" else "asc:"), part[1:]
        parts.append(direction + _CATALOG_FIELDS.get(part, part))
    return ",".join(parts)


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


class ApiTransport:
    """Synchronous calls; fetches a bearer token, refreshes it before expiry and on a 401."""

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
        """GET one resource and unwrap the `{"items": [...]}` envelope (the Catalog's
        `{"<id>": {...}}` for a catalog path)."""
        body = self.get(path)
        if service_root(path) == CATALOG_PATH:
            found = catalog_items(body)
            return found[0] if found else {}
        items = body.get("items") if isinstance(body, dict) else None
        if isinstance(items, list) and items:
            item: JsonObject = items[0]
            return item
        return body if isinstance(body, dict) else {"value": body}

    def post(
        self, path: str, body: Any = None, params: Any = None, *, idempotency_key: str | None = None
    ) -> Any:
        """POST; with `idempotency_key`, a retry of the same create gets the first answer."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        response = self.request("POST", path, params=params, json=body, headers=headers)
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
        `_links.next.href` until it is absent or empty (Catalog lists: `start` until a short
        page)."""
        if service_root(path) == CATALOG_PATH:
            yield from self._iter_catalog(path, property, orderby, limit)
            return
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
            href = next_href(body)
            next_path = follow_href(href, path) if href else None

    def _iter_catalog(
        self, path: str, property: Sequence[str], orderby: str | None, limit: int | None
    ) -> Iterator[JsonObject]:
        page_size = min(limit or CATALOG_PAGE_SIZE, CATALOG_PAGE_SIZE)
        params: list[tuple[str, str | int]] = [("property", p) for p in property]
        if orderby:
            params.append(("orderBy", catalog_order(orderby)))
        start = 0
        while True:
            page = catalog_items(self.get(path, [*params, ("limit", page_size), ("start", start)]))
            yield from page
            if len(page) < page_size:
                return
            start += len(page)
