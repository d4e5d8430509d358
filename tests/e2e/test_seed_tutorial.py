"""The on-demand ingestion tutorial (seed/on-demand-ingestion.fr.md), word for word, with curl,
against a real `sluice serve`: only the base URL, the credentials and the flow id change."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_flows import csv_folder_flow, postgres_table_flow, preview
from processes import (
    FLOW_SERVICE,
    ServerProcess,
    await_run,
    client_for,
    pg_source,
    source_table,
)

from support.api_bodies import SEED_FILE_RUN, SEED_FLOW_ID, SEED_TABLE_RUN

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("curl") is None, reason="the tutorial's requests use curl"),
]

# The tutorial's two request bodies are SEED_TABLE_RUN and SEED_FILE_RUN: only their flow id
# (SEED_FLOW_ID) is replaced.
WINDOW_START, WINDOW_END = 1651584991, 16515859567  # [2022-05-03T13:36:31Z, 2493-05-…)


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


# id -> DOB (naive UTC, as a `timestamp` column holds it); the window decides who lands.
PEOPLE: dict[int, datetime | None] = {
    1: datetime(1990, 1, 1),  # a real birth date, long before the window
    2: utc(WINDOW_START - 1),  # one second before the window: out
    3: utc(WINDOW_START),  # exactly on the window's start: in
    4: datetime(2023, 6, 15, 8, 30),  # in
    5: utc(WINDOW_END - 1),  # the window's last second: in
    6: utc(WINDOW_END),  # exactly on the window's end (exclusive): out
    7: None,  # no DOB: out
}
PEOPLE_IN_WINDOW = [3, 4, 5]
# file -> (mtime, event ids in it)
FILES: dict[str, tuple[int, list[int]]] = {
    "old.csv": (WINDOW_START - 1, [100]),
    "start.csv": (WINDOW_START, [101, 102]),
    "recent.csv": (int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()), [103]),
}
FILES_IN_WINDOW = {"start.csv", "recent.csv"}


@pytest.fixture
def people() -> Iterator[str]:
    with source_table("e2e_people") as name:
        pg_source(f'CREATE TABLE {name} (id integer PRIMARY KEY, name text, "DOB" timestamp)')
        for person, dob in PEOPLE.items():
            pg_source(f"INSERT INTO {name} VALUES (%s, %s, %s)", [person, f"person {person}", dob])
        yield name


def events_folder(root: Path) -> Path:
    folder = root / "events"
    folder.mkdir()
    for name, (mtime, ids) in FILES.items():
        path = folder / name
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["event_id", "kind"])
            writer.writerows([[i, f"kind {i}"] for i in ids])
        os.utime(path, (mtime, mtime))
    return folder


def tutorial_curl(server: ServerProcess, path: str, body: str) -> tuple[int, Any]:
    """The tutorial's request, its headers as written, sent by curl; (status, JSON body)."""
    creds = json.loads((server.data_dir / "credentials.json").read_text())
    token = httpx.post(f"{server.url}/ims/token/v3", data={
        "grant_type": "client_credentials", "client_id": creds["clientId"],
        "client_secret": creds["clientSecret"]}).json()["access_token"]
    result = subprocess.run([
        "curl", "-sS", "-X", "POST", f"{server.url}{path}",
        "-H", f"Authorization: Bearer {token}",
        "-H", f"x-api-key: {creds['clientId']}",
        "-H", f"x-gw-ims-org-id: {creds['orgId']}",
        "-H", f"x-sandbox-name: {creds['sandboxName']}",
        "-H", "Content-Type: application/json",
        "-d", body,
        "-w", "\n%{http_code}",
    ], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    text, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(text)


def assert_created(status: int, body: Any) -> str:
    assert status == 201, body
    assert set(body) == {"items"} and len(body["items"]) == 1, body
    item = body["items"][0]
    assert set(item) == {"id", "etag"}, body
    assert item["etag"].startswith('"') and item["etag"].endswith('"')
    return str(item["id"])


def test_the_tutorials_two_requests_ingest_exactly_their_windows(
    server: ServerProcess, people: str, files_root: Path
) -> None:
    with client_for(server) as client:
        table_flow = postgres_table_flow(client, people)
        file_flow = csv_folder_flow(client, events_folder(files_root))

        # "POST /runs/" (the API format line, trailing slash) for the table-based source ...
        status, created = tutorial_curl(server, f"{FLOW_SERVICE}/runs/",
                                        SEED_TABLE_RUN.replace(SEED_FLOW_ID, table_flow.flow_id))
        table_run = assert_created(status, created)
        # ... and the curl example's URL, without it, for the file-based source.
        status, created = tutorial_curl(server, f"{FLOW_SERVICE}/runs",
                                        SEED_FILE_RUN.replace(SEED_FLOW_ID, file_flow.flow_id))
        file_run = assert_created(status, created)

        for run_id in (table_run, file_run):
            run = await_run(client, run_id, [server])
            assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
            assert run["params"]["windowStartTime"] == WINDOW_START
            assert run["params"]["windowEndTime"] == WINDOW_END

        table_rows = preview(client, table_flow.dataset_id)["rows"]
        assert sorted(r["id"] for r in table_rows) == PEOPLE_IN_WINDOW
        for row in table_rows:
            dob = PEOPLE[row["id"]]
            assert dob is not None and row["DOB"] == dob.isoformat()
            assert row["_sluice_run_id"] == table_run

        file_rows = preview(client, file_flow.dataset_id)["rows"]
        expected = sorted(i for name in FILES_IN_WINDOW for i in FILES[name][1])
        assert sorted(r["event_id"] for r in file_rows) == expected
        assert {r["_sluice_source_file"] for r in file_rows} == FILES_IN_WINDOW

        # The first run's delta column is now the flow's Copy transformation ...
        flow = client.get_item(f"flows/{table_flow.flow_id}")
        copy = next(t for t in flow["transformations"] if t["name"].lower() == "copy")
        assert copy["params"]["deltaColumn"]["name"] == "DOB"
        # ... and "any attempt to change it through the run parameters results in an error".
        changed = (SEED_TABLE_RUN.replace(SEED_FLOW_ID, table_flow.flow_id)
                   .replace('"DOB"', '"name"'))
        status, problem = tutorial_curl(server, f"{FLOW_SERVICE}/runs", changed)
        assert status == 400, problem
        assert problem["type"].endswith("FLOW-1382-400"), problem
