"""The lake on object stores (moto's S3 server and Azurite): every write mode, exactly-once
recognition, racing writers, preview and stats, delete, and the lake settings' checks."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from lake_helpers import full_schema, run_batches

from sluice.domain.windows import Window
from sluice.lake.location import LakeConfigurationError, LakeLocation, LakeTable, lake_location
from sluice.lake.predicates import window_predicate
from sluice.lake.reader import preview_rows, table_stats
from sluice.lake.writer import ConcurrentWriteError, WritePlan, committed_version, write_run
from support.azurite import Azurite
from support.s3_server import REGION, S3Server

DATA = pa.schema([pa.field("id", pa.int64(), nullable=False),
                  ("at", pa.timestamp("us", tz="UTC")), ("v", pa.string())])
SCHEMA = full_schema(DATA)
DAY1 = Window(int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()),
              int(datetime(2024, 5, 2, tzinfo=UTC).timestamp()))
DAY2 = Window(DAY1.end, DAY1.end + 86_400)


def s3_options(s3: S3Server) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": s3.endpoint, "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_REGION": REGION,
            "AWS_ALLOW_HTTP": "true"}


@pytest.fixture(params=["s3", "azure"])
def lake(request: pytest.FixtureRequest) -> LakeLocation:
    if request.param == "s3":
        s3: S3Server = request.getfixturevalue("s3")
        bucket = s3.new_bucket("sluice-lake")
        return lake_location(f"s3://{bucket}/lake", json.dumps(s3_options(s3)))
    azurite: Azurite = request.getfixturevalue("azurite")
    container = azurite.new_container("sluice-lake")
    options = {"azure_storage_account_name": azurite.account_name,
               "azure_storage_account_key": azurite.account_key,
               "azure_storage_endpoint": azurite.blob_endpoint, "azure_allow_http": "true"}
    return lake_location(f"az://{container}/lake", json.dumps(options))


@pytest.fixture
def table(lake: LakeLocation) -> LakeTable:
    return LakeTable(lake.table_uri("org", "sandbox", "dataset"), lake)


def rows(ids: range, day: Window = DAY1, v: str = "x") -> list[dict[str, Any]]:
    moment = datetime.fromtimestamp(day.start, UTC) + timedelta(hours=1)
    return [{"id": i, "at": moment, "v": v} for i in ids]


def write(table: LakeTable, run_id: str, data: list[dict[str, Any]], **plan: Any) -> Any:
    mode = plan.pop("mode", "append")
    return write_run(WritePlan(table, run_id, mode, **plan), SCHEMA,
                     run_batches(DATA, data, run_id))


def predicate(day: Window) -> str:
    return window_predicate("at", DATA.field("at").type, day, "UTC")


def ids(table: LakeTable) -> list[int]:
    opened = DeltaTable(table.uri, storage_options=table.storage_options)
    return sorted(opened.to_pyarrow_table(columns=["id"]).column("id").to_pylist())


def keys(table: LakeTable) -> list[str]:
    """The objects under the table, listed from the store itself."""
    fs, _ = table.lake.filesystem()
    fs.invalidate_cache()
    path = table.lake.fs_path(table.uri)
    return [str(key) for key in fs.find(path)] if fs.exists(path) else []


def test_every_write_mode_lands_on_the_object_store(table: LakeTable) -> None:
    assert write(table, "r1", rows(range(5))).version == 0
    replaced = write(table, "r2", rows(range(3), v="new"), mode="replaceWindow",
                     replace_predicate=predicate(DAY1))
    assert replaced.version == 1 and ids(table) == [0, 1, 2]
    merged = write(table, "r3", rows(range(2, 6), v="merged"), mode="merge", merge_keys=("id",))
    assert merged.version == 2 and ids(table) == [0, 1, 2, 3, 4, 5]
    # The log entries are read from the store: each run's commit is found by its run id.
    assert [committed_version(table, run) for run in ("r1", "r2", "r3", "r4")] == [0, 1, 2, None]


def test_an_attempt_that_had_committed_is_recognised(table: LakeTable) -> None:
    first = write(table, "r1", rows(range(4)))
    again = write(table, "r1", rows(range(4)))
    assert again.already_committed and again.version == first.version == 0
    assert again.rows_written == 4 and again.bytes_written == first.bytes_written
    assert ids(table) == [0, 1, 2, 3]


def test_preview_and_stats_read_the_object_store(table: LakeTable) -> None:
    assert table_stats(table) is None and preview_rows(table, 5) == ([], [])
    write(table, "r1", rows(range(7)))
    stats = table_stats(table)
    assert stats is not None and (stats.version, stats.row_count, stats.file_count) == (0, 7, 1)
    columns, preview = preview_rows(table, 3)
    assert {"id", "at", "v", "_sluice_run_id"} <= {c["name"] for c in columns}
    assert len(preview) == 3


def test_delete_removes_the_table_objects(table: LakeTable) -> None:
    write(table, "r1", rows(range(3)))
    assert any(key.endswith(".parquet") for key in keys(table))
    table.delete()
    assert keys(table) == []
    assert table.open() is None
    table.delete()  # nothing left: no error


def test_two_writers_racing_on_one_table_both_commit_once(table: LakeTable) -> None:
    write(table, "seed", rows(range(0)) + rows(range(100, 101), day=DAY2))
    barrier = threading.Barrier(2)
    conflicts: list[str] = []

    def writer(run_id: str, day: Window, first_id: int) -> None:
        barrier.wait()
        for _attempt in range(10):  # as the runner does: a losing commit retries the attempt
            try:
                write(table, run_id, rows(range(first_id, first_id + 50), day=day),
                      mode="replaceWindow", replace_predicate=predicate(day))
                return
            except ConcurrentWriteError:
                conflicts.append(run_id)
        raise AssertionError(f"{run_id} never committed")

    threads = [threading.Thread(target=writer, args=("w1", DAY1, 0)),
               threading.Thread(target=writer, args=("w2", DAY2, 1000))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = {run: committed_version(table, run) for run in ("w1", "w2")}
    assert sorted(v for v in versions.values() if v is not None) == [1, 2], (versions, conflicts)
    # Each window's rows exactly once; DAY2's seed row was replaced by w2's window.
    assert ids(table) == list(range(0, 50)) + list(range(1000, 1050))


def test_s3_lake_commits_with_conditional_writes_by_default(s3: S3Server) -> None:
    lake = lake_location("s3://bucket/lake", json.dumps(s3_options(s3)))
    assert lake.storage_options["conditional_put"] == "etag"
    assert lake.storage_options["aws_endpoint_url"] == s3.endpoint  # one spelling
    chosen = lake_location("s3://bucket/lake", '{"aws_s3_locking_provider": "dynamodb"}')
    assert "conditional_put" not in chosen.storage_options
    assert lake_location("/srv/lake").delta_options() is None


@pytest.mark.parametrize(
    ("uri", "options", "message"),
    [
        ("s3://b/lake", '{"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}', "unsafe renames"),
        ("gopher://b/lake", None, "not supported"),
        ("s3://b/lake", "{not json", "not JSON"),
        ("s3://b/lake", '["a"]', "JSON object"),
        ("s3://b/lake", '{"a": {"nested": 1}}', "JSON object"),
    ],
)
def test_unsafe_or_unusable_lake_settings_are_refused(
    uri: str, options: str | None, message: str
) -> None:
    with pytest.raises(LakeConfigurationError, match=message):
        lake_location(uri, options)


def test_unsafe_renames_only_when_the_operator_says_so() -> None:
    lake = lake_location("s3://b/lake", '{"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}',
                         allow_unsafe_rename=True)
    assert lake.storage_options["aws_s3_allow_unsafe_rename"] == "true"
    assert "conditional_put" not in lake.storage_options


def test_table_uris_are_joined_without_local_paths() -> None:
    lake = lake_location("s3://bucket/some/prefix/")
    assert lake.table_uri("o", "s", "d") == "s3://bucket/some/prefix/o/s/d"
    with pytest.raises(ValueError):
        lake.table_uri("o", "../s", "d")
    azure = lake_location("abfss://data@acct.dfs.core.windows.net/lake")
    assert azure.fs_path(azure.table_uri("o", "s", "d")) == "data/lake/o/s/d"


def test_gcs_lake_uris_options_and_file_system(monkeypatch: pytest.MonkeyPatch) -> None:
    # No GCS emulator runs here: the parsing and the clients are checked, not a round trip.
    from fsspec.implementations.arrow import ArrowFSWrapper

    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT", "/etc/sluice/gcs.json")
    lake = lake_location("gs://bucket/some/prefix", '{"GOOGLE_SERVICE_ACCOUNT_KEY": "{}"}')
    assert (lake.scheme, lake.is_local) == ("gs", False)
    # delta-rs's option names, one spelling; the GOOGLE_* variables delta-rs reads itself.
    assert lake.delta_options() == {"google_service_account_key": "{}"}
    assert "conditional_put" not in lake.storage_options  # GCS commits are atomic as they are
    assert lake._environment() == {"google_service_account": "/etc/sluice/gcs.json"}
    uri = lake.table_uri("o", "s", "d")
    assert uri == "gs://bucket/some/prefix/o/s/d"
    assert lake.fs_path(uri) == "bucket/some/prefix/o/s/d"
    fs, prefix = lake.filesystem()
    assert isinstance(fs, ArrowFSWrapper) and prefix == "gs://"
    assert type(fs.fs).__name__ == "GcsFileSystem"
    with pytest.raises(LakeConfigurationError, match="gs://"):
        lake_location("gcs://bucket/lake")  # delta-rs knows gs:// only
