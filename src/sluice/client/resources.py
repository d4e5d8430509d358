"""One typed accessor per API resource: `client.flows.list()`, `client.runs.create(...)`, ..."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sluice.client.runs import ProgressCallback, follow_log, log_page, wait_for_run
from sluice.client.transport import (
    CATALOG_PATH,
    SANDBOXES_PATH,
    ApiTransport,
    JsonObject,
    follow_href,
    next_href,
)

Operations = Sequence[Mapping[str, Any]]
# A page never asks for more than this, so a big `limit` stays under the server's maximum.
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Created:
    """What a create or update answers: the resource's id and its new etag."""

    id: str
    etag: str

    @classmethod
    def from_body(cls, body: Any) -> Created:
        if isinstance(body, list):  # the Catalog's ["@/dataSets/{id}"] (no etag in it)
            return cls(catalog_id(body), "")
        if isinstance(body, dict) and isinstance(body.get("items"), list) and body["items"]:
            body = body["items"][0]  # runs wrap the new run in `items`
        return cls(str(body["id"]), str(body.get("etag", "")))


class ReadableCollection:
    """A list of resources: paged iteration, counting and single reads."""

    def __init__(self, api: ApiTransport, path: str) -> None:
        self.api = api
        self.path = path

    def iter(
        self,
        *,
        property: Sequence[str] = (),
        orderby: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[JsonObject]:
        """Every matching item, fetching pages lazily as the iteration goes."""
        return self.api.iter_list(self.path, property, orderby, page_size)

    def list(
        self,
        *,
        property: Sequence[str] = (),
        orderby: str | None = None,
        limit: int | None = None,
    ) -> list[JsonObject]:
        """At most `limit` matching items (all of them without a limit)."""
        page_size = min(limit, MAX_PAGE_SIZE) if limit else None
        return list(
            islice(self.iter(property=property, orderby=orderby, page_size=page_size), limit)
        )

    def count(self, *, property: Sequence[str] = ()) -> int:
        params: list[tuple[str, str]] = [("property", p) for p in property]
        body = self.api.get(self.path, [*params, ("count", "true")])
        return int(body["count"])

    def get(self, resource_id: str) -> JsonObject:
        return self.api.get_item(f"{self.path}/{resource_id}")


class WritableCollection(ReadableCollection):
    """A resource that is also updated (JSON Patch with If-Match) and deleted."""

    def update(
        self, resource_id: str, operations: Operations, *, etag: str | None = None
    ) -> Created:
        """Apply a JSON Patch; without `etag`, the current one is read first (last writer
        wins then; pass the etag you read to refuse a change made meanwhile)."""
        current = etag if etag is not None else str(self.get(resource_id)["etag"])
        return Created.from_body(self.api.patch(f"{self.path}/{resource_id}", operations, current))

    def delete(self, resource_id: str) -> None:
        self.api.delete(f"{self.path}/{resource_id}")


class Collection(WritableCollection):
    """A resource created from its wire body, as the Flow Service API documents it."""

    def create(self, body: Mapping[str, Any]) -> Created:
        return Created.from_body(self.api.post(self.path, dict(body)))


class Connections(Collection):
    def test(self, connection_id: str) -> JsonObject:
        """`{"result": true}` when the connection reaches its source, else a message."""
        result: JsonObject = self.api.get(f"{self.path}/{connection_id}/test")
        return result

    def explore(
        self,
        connection_id: str,
        object_type: str = "root",
        object: str | None = None,
        *,
        preview: bool = False,
        preview_rows: int | None = None,
        **options: str,
    ) -> Any:
        """The objects under a place (a list of items) or, for a table or file, its columns
        and with `preview=True` sample rows (`{"format": "flat", "schema", "data"}`).
        `options` are further query parameters: fileType, columnDelimiter, ..."""
        params: dict[str, str] = {"objectType": object_type, **options}
        if object is not None:
            params["object"] = object
        if preview:
            params["preview"] = "true"
        if preview_rows is not None:
            params["previewRows"] = str(preview_rows)
        return self.api.get(f"{self.path}/{connection_id}/explore", params)


class Flows(Collection):
    def enable(self, flow_id: str, *, etag: str | None = None) -> Created:
        return self._action(flow_id, "enable", etag)

    def disable(self, flow_id: str, *, etag: str | None = None) -> Created:
        return self._action(flow_id, "disable", etag)

    def _action(self, flow_id: str, op: str, etag: str | None) -> Created:
        headers = {"If-Match": etag} if etag else None
        response = self.api.request(
            "POST", f"{self.path}/{flow_id}/action", params={"op": op}, headers=headers
        )
        return Created.from_body(response.json())


class Runs(ReadableCollection):
    def create(
        self,
        flow_id: str,
        *,
        window_start: int,
        window_end: int,
        start_time: int | None = None,
        delta_column: str | None = None,
        idempotency_key: str | None = None,
    ) -> Created:
        """An on-demand run over `[window_start, window_end)` (epoch seconds); it may begin
        at `start_time` (default now). `delta_column` only on a table flow's first run. With
        `idempotency_key`, sending the same request again returns the same run (give
        `start_time` too: its default, now, would make a later retry another request)."""
        params: dict[str, Any] = {
            "windowStartTime": str(window_start),
            "windowEndTime": str(window_end),
            "startTime": str(int(time.time()) if start_time is None else start_time),
        }
        if delta_column:
            params["deltaColumn"] = {"name": delta_column}
        body = {"flowId": flow_id, "params": params}
        return Created.from_body(self.api.post(self.path, body, idempotency_key=idempotency_key))

    def for_flow(self, flow_id: str, *, status: str | None = None) -> Iterator[JsonObject]:
        """A flow's runs, newest first, optionally of one status (e.g. `failed`)."""
        filters = [f"flowId=={flow_id}", *([f"state=={status}"] if status else [])]
        return self.iter(property=filters, orderby="-createdAt")

    def retrigger(self, run_id: str) -> Created:
        """A new run over the same window (and files) as a failed run."""
        return Created.from_body(
            self.api.post(f"{self.path}/{run_id}/action", params={"op": "re-trigger"})
        )

    def cancel(self, run_id: str) -> Created:
        return Created.from_body(
            self.api.post(f"{self.path}/{run_id}/action", params={"op": "cancel"})
        )

    def bad_rows(self, run_id: str, *, limit: int = 100) -> list[JsonObject]:
        """Rows the run quarantined, with their reason (flows with errorDiagnosticsEnabled)."""
        body = self.api.get(f"{self.path}/{run_id}/badRows", {"limit": limit})
        items: list[JsonObject] = body.get("items", [])
        return items

    def logs(self, run_id: str, *, since: int = 0, limit: int = 100) -> JsonObject:
        """A page of the run's log (a Sluice extension): `items` after `since`, `runStatus`
        and the `since` of the next page."""
        return log_page(self.api, run_id, since=since, limit=limit)

    def follow_logs(
        self,
        run_id: str,
        on_entry: Callable[[JsonObject], None],
        *,
        since: int = 0,
        poll_seconds: float = 0.5,
        timeout_seconds: float | None = None,
    ) -> str:
        """Every log entry as it is written, until the run ends; the run's final status."""
        return follow_log(
            self.api,
            run_id,
            on_entry,
            since=since,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )

    def wait(
        self,
        run_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        poll_seconds: float = 0.5,
        timeout_seconds: float | None = None,
    ) -> JsonObject:
        """Poll until the run ends; `on_progress` sees each version of it."""
        return wait_for_run(
            self.api,
            run_id,
            on_progress=on_progress,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )


class Datasets(ReadableCollection):
    """The Catalog API's datasets. Items carry their `id` (the Catalog lists them keyed by
    it); lists page with `start`/`limit` and sort with `orderby` (`-created` or
    `desc:created`)."""

    def __init__(self, api: ApiTransport) -> None:
        super().__init__(api, f"{CATALOG_PATH}/dataSets")

    def create(self, body: Mapping[str, Any]) -> Created:
        """The Catalog answers `["@/dataSets/{id}"]`; the etag comes in the ETag header."""
        response = self.api.request("POST", self.path, json=dict(body))
        return Created(catalog_id(response.json()), response.headers.get("ETag", ""))

    def update(
        self,
        dataset_id: str,
        changes: Mapping[str, Any] | Operations,
        *,
        etag: str | None = None,
    ) -> Created:
        """`changes`: the fields to set (`{"description": ...}`) or JSON Patch operations;
        with `etag`, a change made meanwhile is refused (412)."""
        headers = {"If-Match": etag} if etag else None
        body = dict(changes) if isinstance(changes, Mapping) else list(changes)
        response = self.api.request(
            "PATCH", f"{self.path}/{dataset_id}", json=body, headers=headers
        )
        return Created(catalog_id(response.json()), response.headers.get("ETag", ""))

    def delete(self, dataset_id: str) -> None:
        self.api.delete(f"{self.path}/{dataset_id}")

    def preview(self, dataset_id: str, *, limit: int = 20) -> JsonObject:
        """Columns, first rows, Delta version and row count of a dataset."""
        result: JsonObject = self.api.get(f"{self.path}/{dataset_id}/preview", {"limit": limit})
        return result

    def stats(self, dataset_id: str) -> JsonObject:
        """Delta version, row count, live files and their bytes."""
        result: JsonObject = self.api.get(f"{self.path}/{dataset_id}/stats")
        return result

    def history(self, dataset_id: str, *, limit: int = 20) -> list[JsonObject]:
        """The Delta commits of the dataset, newest first."""
        body = self.api.get(f"{self.path}/{dataset_id}/history", {"limit": limit})
        items: list[JsonObject] = body.get("items", [])
        return items


def catalog_id(body: Any) -> str:
    """`"abc"` from the Catalog's `["@/dataSets/abc"]`."""
    if isinstance(body, list) and body and isinstance(body[0], str):
        return body[0].rsplit("/", 1)[-1]
    raise ValueError(f"not a Catalog reference: {body!r}")


class Webhooks(WritableCollection):
    def create(
        self,
        *,
        name: str,
        url: str,
        events: Sequence[str],
        secret: str,
        flow_id: str | None = None,
        enabled: bool = True,
        description: str | None = None,
    ) -> Created:
        """Subscribe `url` to run events; `secret` (16+ characters) signs every delivery
        and can never be read back."""
        body: dict[str, Any] = {
            "name": name,
            "url": url,
            "events": list(events),
            "secret": secret,
            "enabled": enabled,
        }
        if flow_id is not None:
            body["flowId"] = flow_id
        if description is not None:
            body["description"] = description
        return Created.from_body(self.api.post(self.path, body))

    def deliveries(
        self, webhook_id: str, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[JsonObject]:
        """The subscription's delivery log, newest first (`status`: pending, delivered or
        failed)."""
        params: dict[str, Any] = {}
        if status:
            params["status"] = status
        if page_size:
            params["limit"] = page_size
        next_path: str | None = f"{self.path}/{webhook_id}/deliveries"
        first = True
        while next_path:
            body = self.api.get(next_path, params if first else None)
            first = False
            yield from body.get("items", [])
            href = next_href(body)
            next_path = follow_href(href, self.path) if href else None


class Sandboxes:
    """The org's sandboxes (sandbox management API: addressed by name)."""

    def __init__(self, api: ApiTransport) -> None:
        self.api = api
        self.path = SANDBOXES_PATH

    def list(self) -> list[JsonObject]:
        return list(self.api.iter_list(self.path))

    def get(self, name: str) -> JsonObject:
        result: JsonObject = self.api.get(f"{self.path}/{name}")
        return result

    def create(self, name: str, *, title: str | None = None) -> JsonObject:
        """A development sandbox (`prod` is the org's only production sandbox)."""
        body = {"name": name, "title": title or name, "type": "development"}
        result: JsonObject = self.api.post(self.path, body)
        return result
