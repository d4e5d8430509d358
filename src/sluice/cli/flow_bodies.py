"""The API request bodies a new flow takes, built from a draft, and creating them in order.

A flow is four or five requests: a source connection, perhaps a new dataset, a target
connection on the dataset, and the flow. The review shows them exactly as they will be sent;
ids not known yet appear as `<sourceConnection.id>`-style placeholders, replaced when the
request that creates them has answered.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from sluice.client import SluiceApiError, SluiceClient
from sluice.connectors.data_lake.spec import DATA_LAKE_SPEC_ID
from sluice.domain.flow_specs import CLOUD_STORAGE_TO_AEP, CRM_TO_AEP

SOURCE_ID = "<sourceConnection.id>"
DATASET_ID = "<dataSet.id>"
TARGET_ID = "<targetConnection.id>"
CATALOG_DATASETS = "/data/foundation/catalog/dataSets"
FLOW_SERVICE = "/data/foundation/flowservice"


@dataclass
class FlowDraft:
    """What the wizard or the options gathered."""

    name: str
    connection_id: str
    connection_spec_id: str
    file_source: bool
    table: str | None = None
    path: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # format options of a file source
    dataset_id: str | None = None  # an existing dataset ...
    new_dataset: str | None = None  # ... or the name of a new one
    frequency: str = "once"
    interval: int | None = None
    start_time: int = 0
    backfill: bool | None = None
    delta_column: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    what: str
    path: str
    body: dict[str, Any]


def requests_for(draft: FlowDraft) -> list[Request]:
    source_params = {"tableName": draft.table} if not draft.file_source else {"path": draft.path}
    data = dict(draft.data) if draft.file_source else {"format": "tabular"}
    requests = [
        Request(
            "source connection",
            "sourceConnections",
            {
                "name": f"{draft.name} source",
                "baseConnectionId": draft.connection_id,
                "connectionSpec": {"id": draft.connection_spec_id, "version": "1.0"},
                "data": data,
                "params": source_params,
            },
        )
    ]
    if draft.dataset_id is None:
        requests.append(
            Request("dataset", CATALOG_DATASETS, {"name": draft.new_dataset or draft.name})
        )
    requests.append(
        Request(
            "target connection",
            "targetConnections",
            {
                "name": f"{draft.name} target",
                "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
                "params": {"dataSetId": draft.dataset_id or DATASET_ID},
            },
        )
    )
    schedule: dict[str, Any] = {"startTime": str(draft.start_time), "frequency": draft.frequency}
    if draft.frequency != "once":
        schedule["interval"] = draft.interval or 1
        if draft.backfill is not None:
            schedule["backfill"] = draft.backfill
    flow: dict[str, Any] = {
        "name": draft.name,
        "flowSpec": {
            "id": (CLOUD_STORAGE_TO_AEP if draft.file_source else CRM_TO_AEP).id,
            "version": "1.0",
        },
        "sourceConnectionIds": [SOURCE_ID],
        "targetConnectionIds": [TARGET_ID],
        "transformations": [],
        "scheduleParams": schedule,
    }
    if draft.delta_column:
        flow["transformations"] = [
            {"name": "Copy", "params": {"deltaColumn": {"name": draft.delta_column}}}
        ]
    if draft.options:
        flow["options"] = dict(draft.options)
    requests.append(Request("flow", "flows", flow))
    return requests


def review_text(requests: list[Request]) -> str:
    """The requests as they will be sent, placeholders and all."""
    parts = []
    for request in requests:
        body = json.dumps(request.body, indent=2)
        path = request.path if request.path.startswith("/") else f"{FLOW_SERVICE}/{request.path}"
        parts.append(f"POST {path}   ({request.what})\n{body}")
    return "\n\n".join(parts)


def _substituted(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_substituted(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _substituted(v, ids) for k, v in value.items()}
    return value


def create_all(client: SluiceClient, requests: list[Request]) -> dict[str, str]:
    """Send the requests in order; the created ids by what they are. When one is refused,
    what the earlier ones created is deleted again (newest first) and the API's coded error
    propagates, so a refused flow leaves nothing behind."""
    ids: dict[str, str] = {}
    created: list[tuple[Request, str]] = []
    placeholders = {
        "source connection": SOURCE_ID,
        "dataset": DATASET_ID,
        "target connection": TARGET_ID,
    }
    try:
        for request in requests:
            body = _substituted(request.body, ids)
            if request.path == CATALOG_DATASETS:
                new_id = client.datasets.create(body).id
            else:
                new_id = str(client.post(request.path, body)["id"])
            created.append((request, new_id))
            if request.what in placeholders:
                ids[placeholders[request.what]] = new_id
    except SluiceApiError:
        for request, new_id in reversed(created):
            # Best effort: the original error is what the user must see.
            with contextlib.suppress(SluiceApiError):
                client.delete(f"{request.path}/{new_id}")
        raise
    return {request.what: new_id for request, new_id in created}
