"""The data-lake target's test: its folder can be created and written."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.data_lake.spec import CONNECTOR
from sluice.connectors.errors import ConnectionTestFailed
from sluice.lake.location import LakeLocation, lake_location
from support.s3_server import REGION, S3Server


def test_missing_lake_folder_is_created_and_left_clean(context: ConnectorContext) -> None:
    assert not context.lake_dir.exists()
    CONNECTOR.test(context, {})
    assert context.lake_dir.is_dir()
    assert list(context.lake_dir.iterdir()) == []


def test_existing_lake_folder_passes(context: ConnectorContext) -> None:
    context.lake_dir.mkdir()
    (context.lake_dir / "table").mkdir()
    CONNECTOR.test(context, {})
    assert [p.name for p in context.lake_dir.iterdir()] == ["table"]


def test_lake_folder_under_a_file_fails(context: ConnectorContext, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConnectionTestFailed, match="cannot be created or written"):
        CONNECTOR.test(replace(context, lake_dir=blocker / "lake"), {})


def test_lake_path_that_is_a_file_fails(context: ConnectorContext, tmp_path: Path) -> None:
    blocker = tmp_path / "lake-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConnectionTestFailed, match="SLUICE_DATA_DIR"):
        CONNECTOR.test(replace(context, lake_dir=blocker), {})


def _s3_lake(s3: S3Server, bucket: str) -> LakeLocation:
    options = {"aws_endpoint_url": s3.endpoint, "aws_access_key_id": s3.access_key,
               "aws_secret_access_key": s3.secret_key, "aws_region": REGION,
               "aws_allow_http": "true"}
    return lake_location(f"s3://{bucket}/lake", json.dumps(options))


def test_an_object_store_lake_is_probed_there_not_in_the_local_folder(
    context: ConnectorContext, s3: S3Server
) -> None:
    bucket = s3.new_bucket("probe")
    CONNECTOR.test(replace(context, lake=_s3_lake(s3, bucket)), {})
    assert not context.lake_dir.exists()  # the local folder was not touched
    assert s3.client().list_objects_v2(Bucket=bucket).get("Contents", []) == []  # cleaned


def test_an_object_store_lake_that_refuses_files_fails_without_its_credentials(
    context: ConnectorContext, s3: S3Server
) -> None:
    lake = _s3_lake(s3, "no-such-bucket-for-sluice")
    with pytest.raises(ConnectionTestFailed, match="does not take a file") as caught:
        CONNECTOR.test(replace(context, lake=lake), {})
    assert s3.secret_key not in str(caught.value)
    assert "s3://no-such-bucket-for-sluice/lake" in str(caught.value)
