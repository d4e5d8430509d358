"""The Generic REST API connector end to end over HTTP against a real `sluice serve`: the
shared journey with the REST test server as the source (paged, windowed on `updated_at`),
then a token that stops working: the connection test says so, and a run fails with the
coded error and commits nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from connector_journey import Journey, run_journey
from e2e_flows import (
    create_run,
    delta_version,
    read_dataset,
)
from processes import ServerProcess, client_for, unique_name

from sluice.client import run_status
from support.rest_server import TOKEN, RestServer, running_rest_server, updated_epoch

pytestmark = pytest.mark.e2e

REST_SPEC = "d7f819ca-df9f-4b5f-be66-74c44667cb69"
RUN_TIMEOUT_SECONDS = 300.0
# Records 1000..1599 are updated inside this window (record i at BASE + i minutes).
WINDOW = (updated_epoch(1000), updated_epoch(1600))
SECOND_WINDOW = (updated_epoch(1600), updated_epoch(1700))


@pytest.fixture
def rest() -> Iterator[RestServer]:
    with running_rest_server() as running:
        yield running


def journey(rest: RestServer) -> Journey:
    return Journey(
        name=unique_name("e2e_rest"),
        connection_spec_id=REST_SPEC,
        auth={"specName": "Bearer Token Authentication",
              "params": {"baseUrl": rest.base("bearer"), "token": TOKEN,
                         "endpoints": ["pages", "plain"]}},
        explore=[("root", None)],
        preview={"objectType": "rest", "object": "plain"},
        source={"data": {"format": "tabular"}, "params": {
            "endpoint": "pages", "tableName": "records", "recordsPath": "$.data[*]",
            "window": {"startParam": "updated_since", "endParam": "updated_before",
                       "format": "iso8601"},
            "pagination": {"type": "pageNumber", "pageParam": "page", "sizeParam": "per_page",
                           "pageSize": 250}}},
        file_source=False,
        window=WINDOW,
        delta_column="updated_at",  # ISO date-times: typed as timestamps by the reader
    )


def test_rest_journey_then_a_refused_token(server: ServerProcess, rest: RestServer) -> None:
    with client_for(server) as client:
        result = run_journey(client, server.data_dir, journey(rest))

        (listing,) = result.listings
        assert [(i["type"], i["path"]) for i in listing] == [
            ("endpoint", "pages"), ("endpoint", "plain")]
        columns = {c["name"]: c["type"] for c in result.preview["schema"]["columns"]}
        assert list(columns) == ["id", "updated_at", "customer", "amount", "tags"]
        assert len(result.preview["data"]) == 100
        assert result.preview["data"][0]["id"] == 1
        assert result.preview["data"][0]["customer"] == {"name": "Customer 1", "tier": "silver"}

        rows = result.rows.sort_by("id")
        assert rows.column("id").to_pylist() == list(range(1000, 1600))
        assert rows.schema.field("customer").type == pa.struct(
            [("name", pa.string()), ("tier", pa.string())])
        assert rows.column("updated_at")[0].as_py() == datetime(2024, 5, 1, 16, 40, tzinfo=UTC)
        assert result.run["metrics"]["recordSummary"]["outputRecordCount"] == 600
        windowed = [c for c in rest.calls("pages") if "updated_since" in c.query]
        assert {c.query["updated_since"] for c in windowed} == {"2024-05-01T16:40:00Z"}
        assert [c.query["page"] for c in windowed][-3:] == ["1", "2", "3"]  # 250 + 250 + 100
        version = delta_version(server.data_dir, result.dataset_id)

        # The default write mode (replaceWindow) selects the window on the typed column:
        # running the same window again replaces its rows instead of adding them.
        run_id = create_run(client, result.flow_id, *WINDOW, delta_column="updated_at")
        run = client.wait_for_run(run_id, timeout_seconds=RUN_TIMEOUT_SECONDS)
        assert run_status(run) == "success", run
        again = read_dataset(server.data_dir, result.dataset_id).sort_by("id")
        assert again.column("id").to_pylist() == list(range(1000, 1600))
        assert again.schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
        version = delta_version(server.data_dir, result.dataset_id)

        # The API revokes the token: the test says so, and the next run fails, coded.
        connection = client.get_item(f"connections/{result.connection_id}")
        client.patch(f"connections/{result.connection_id}", [
            {"op": "replace", "path": "/auth/params/token", "value": "Revoked-T0ken/Secret"}],
            if_match=connection["etag"])
        tested = client.get(f"connections/{result.connection_id}/test")
        assert tested["result"] is False
        assert "authentication was refused" in tested["message"]
        assert "Revoked-T0ken" not in str(tested)

        run_id = create_run(client, result.flow_id, *SECOND_WINDOW)
        run = client.wait_for_run(run_id, timeout_seconds=RUN_TIMEOUT_SECONDS)
        assert run_status(run) == "failed", run
        (error,) = run["metrics"]["statusSummary"]["errors"]
        assert error["code"] == "CONNECTOR-1001-500"
        assert "authentication refused" in error["message"]
        assert "Revoked-T0ken" not in str(run) and TOKEN not in str(run)
        assert delta_version(server.data_dir, result.dataset_id) == version
