"""`SluiceClient`: the HTTP transport plus one accessor per resource."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import httpx

from sluice.client.backfills import Backfills
from sluice.client.credentials import Credentials
from sluice.client.mapping_sets import MappingSets
from sluice.client.resources import (
    Collection,
    Connections,
    Datasets,
    Flows,
    ReadableCollection,
    Runs,
    Sandboxes,
    Webhooks,
)
from sluice.client.runs import ProgressCallback, wait_for_run
from sluice.client.transport import ApiTransport, JsonObject


class SluiceClient(ApiTransport):
    """Synchronous client for Sluice (and any Flow Service compatible endpoint).

    Typed accessors cover every resource (`client.flows.list()`, `client.runs.create(...)`,
    `client.datasets.preview(id)`, ...); the raw calls (`get`, `post`, `iter_list`, ...) stay
    available for anything else. The bearer token is fetched on first use and refreshed
    before it expires, or once when the server refuses it.
    """

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
        super().__init__(
            base_url, org_id, client_id, client_secret, sandbox, timeout=timeout, http=http
        )
        self.connections = Connections(self, "connections")
        self.source_connections = Collection(self, "sourceConnections")
        self.target_connections = Collection(self, "targetConnections")
        self.flows = Flows(self, "flows")
        self.runs = Runs(self, "runs")
        self.backfills = Backfills(self, "backfills")
        self.datasets = Datasets(self)
        self.mapping_sets = MappingSets(self)
        self.webhooks = Webhooks(self, "webhooks")
        self.connection_specs = ReadableCollection(self, "connectionSpecs")
        self.flow_specs = ReadableCollection(self, "flowSpecs")
        self.sandboxes = Sandboxes(self)

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

    def wait_for_run(
        self,
        run_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        poll_seconds: float = 0.5,
        timeout_seconds: float | None = None,
    ) -> JsonObject:
        """Poll a run until it ends; `on_progress` sees every version of it on the way."""
        return wait_for_run(
            self,
            run_id,
            on_progress=on_progress,
            poll_seconds=poll_seconds,
            timeout_seconds=timeout_seconds,
        )
