"""Python client for Sluice's HTTP API (and any Flow Service compatible endpoint).

with SluiceClient.from_credentials_file(".sluice/credentials.json", URL) as client:
    run = client.runs.create(flow_id, window_start=start, window_end=end)
    client.wait_for_run(run.id, on_progress=print)
"""

from sluice.client.core import SluiceClient
from sluice.client.credentials import Credentials
from sluice.client.errors import SluiceApiError
from sluice.client.resources import Created
from sluice.client.runs import TERMINAL_RUN_STATUSES, run_status, wait_for_run
from sluice.client.transport import (
    CATALOG_PATH,
    FLOW_SERVICE_PATH,
    SANDBOXES_PATH,
    TOKEN_PATH,
    JsonObject,
    list_items,
    next_href,
    resolve_path,
)

__all__ = [
    "CATALOG_PATH",
    "FLOW_SERVICE_PATH",
    "SANDBOXES_PATH",
    "TERMINAL_RUN_STATUSES",
    "TOKEN_PATH",
    "Created",
    "Credentials",
    "JsonObject",
    "SluiceApiError",
    "SluiceClient",
    "list_items",
    "next_href",
    "resolve_path",
    "run_status",
    "wait_for_run",
]
