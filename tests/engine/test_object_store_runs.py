"""Runs into a lake on an S3-compatible store (moto's server), driven through the API: the
window lands in the bucket, reads back through the preview, and the dataset's delete removes
its objects. Nothing is written under the data dir's lake folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_run_execution import BASE, get_run, make_orders, preview, table_flow

from sluice.api.app import create_app
from sluice.config import Settings
from sluice.engine.worker import Worker
from support.api_bodies import CATALOG, FS
from support.api_runs import make_worker, run_all, start_run
from support.callers import Caller, make_caller
from support.s3_server import REGION, S3Server


@pytest.fixture
def s3_settings(settings: Settings, s3: S3Server) -> tuple[Settings, str]:
    bucket = s3.new_bucket("sluice-lake")
    options = {"AWS_ENDPOINT_URL": s3.endpoint, "AWS_ACCESS_KEY_ID": s3.access_key,
               "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_REGION": REGION,
               "AWS_ALLOW_HTTP": "true"}
    configured = Settings(**{**settings.model_dump(), "lake_uri": f"s3://{bucket}/lake",
                             "lake_storage_options": json.dumps(options)})
    return configured, bucket


@pytest.fixture
def s3_caller(s3_settings: tuple[Settings, str]) -> Iterator[Caller]:
    with TestClient(create_app(s3_settings[0]), raise_server_exceptions=False) as client:
        yield make_caller(client, s3_settings[0], "Org S3")


def bucket_keys(s3: S3Server, bucket: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=bucket)
    return [entry["Key"] for entry in listed.get("Contents", [])]


def test_a_window_lands_in_the_object_store_and_reads_back(
    s3_caller: Caller, s3_settings: tuple[Settings, str], s3: S3Server
) -> None:
    settings, bucket = s3_settings
    worker: Worker = make_worker(settings)
    db = make_orders(Path(settings.allowed_file_roots[0]))
    flow, dataset_id = table_flow(s3_caller, db)
    first = start_run(s3_caller, flow, BASE, BASE + timedelta(hours=10))
    assert run_all(worker) == 1
    run = get_run(s3_caller, first)
    assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
    # Re-running the window replaces it in the bucket: still ten rows, one more version.
    start_run(s3_caller, flow, BASE, BASE + timedelta(hours=10))
    assert run_all(worker) == 1
    rows = preview(s3_caller, dataset_id)
    assert sorted(r["id"] for r in rows["rows"]) == list(range(10))
    assert rows["version"] == 1
    keys = bucket_keys(s3, bucket)
    assert any(k.endswith(".parquet") and dataset_id in k for k in keys)
    assert any("_delta_log/00000000000000000001.json" in k for k in keys)
    assert not settings.lake_dir.exists()  # nothing landed on the local disk

    # The dataset's delete removes its objects (its flow and target go first).
    flow_doc = s3_caller.get(f"{FS}/flows/{flow}").json()["items"][0]
    assert s3_caller.delete(f"{FS}/flows/{flow}").status_code == 204
    target = flow_doc["targetConnectionIds"][0]
    assert s3_caller.delete(f"{FS}/targetConnections/{target}").status_code == 204
    deleted = s3_caller.delete(f"{CATALOG}/dataSets/{dataset_id}")
    assert deleted.status_code == 200 and deleted.json() == [f"@/dataSets/{dataset_id}"]
    assert [k for k in bucket_keys(s3, bucket) if dataset_id in k] == []
