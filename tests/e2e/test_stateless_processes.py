"""Outside the embedded mode no process keeps state on its own disk (DESIGN section 1): an API
process, a scheduler and a Celery worker started with a data dir that does not exist, given
only the environment (PostgreSQL metadata, keys, an S3 lake, a broker), run a window end to
end, and none of them creates the data dir."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from e2e_flows import create_run, postgres_table_flow, preview
from processes import (
    Processes,
    await_run,
    metadata_database,
    pg_source,
    provision_client,
    scaled_out_env,
    scheduler_running,
    source_table,
    wait_for,
)

from sluice.client import SluiceClient, run_status
from support.redis_server import redis_server
from support.s3_server import REGION, S3Server

pytestmark = pytest.mark.e2e

BASE_EPOCH = 1_714_521_600  # 2024-05-01T00:00:00Z
ROWS = 24


def test_api_scheduler_and_worker_run_a_window_without_any_data_dir(
    tmp_path: Path, s3: S3Server
) -> None:
    data_dir = tmp_path / "never-created"
    with source_table("e2e_stateless") as table:
        pg_source(f"""
            CREATE TABLE {table} (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
            INSERT INTO {table} SELECT g, to_timestamp({BASE_EPOCH}) + g * interval '1 hour'
            FROM generate_series(0, {ROWS - 1}) AS g;
        """)
        bucket = s3.new_bucket("stateless")
        with redis_server(tmp_path) as broker, metadata_database() as url, \
                Processes(tmp_path) as processes:
            env = {
                **scaled_out_env(data_dir, url, lake_uri=f"s3://{bucket}/lake",
                                 executor="celery", broker_url=broker.url,
                                 sweep_interval_seconds="1", scheduler_interval_seconds="0.5"),
                "AWS_ENDPOINT_URL": s3.endpoint, "AWS_ACCESS_KEY_ID": s3.access_key,
                "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_REGION": REGION,
                "AWS_ALLOW_HTTP": "true",
            }
            api = processes.serve(env, "--no-workers", "--no-scheduler", "--no-demo")
            scheduler = processes.start_scheduler(env)
            wait_for("the scheduler to start", partial(scheduler_running, scheduler), scheduler)
            worker = processes.worker(env)
            credentials = provision_client(env, tmp_path / "credentials.json")
            with SluiceClient.from_credentials_file(credentials, api.url, timeout=30) as client:
                flow = postgres_table_flow(client, table)
                run_id = create_run(client, flow.flow_id, BASE_EPOCH, BASE_EPOCH + 86_400,
                                    delta_column="updated_at")
                run = await_run(client, run_id, [api, scheduler, worker], timeout=120)
                assert run_status(run) == "success", run["metrics"]
                shown = preview(client, flow.dataset_id)
            assert len(shown["rows"]) == ROWS
            keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
            assert any(flow.dataset_id in key and key.endswith(".parquet") for key in keys)
            assert not data_dir.exists()
    assert not data_dir.exists()
