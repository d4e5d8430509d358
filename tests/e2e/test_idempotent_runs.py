"""A client that retries POST /runs after losing the response gets one run: a real
`sluice serve` on PostgreSQL metadata, over HTTP."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from e2e_flows import csv_folder_flow
from processes import (
    FLOW_SERVICE,
    Processes,
    client_for,
    metadata_database,
    provision_client,
    scaled_out_env,
    wait_for,
)

from sluice.client import SluiceClient

pytestmark = pytest.mark.e2e


def _headers(client: SluiceClient, key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {client.fetch_token()}",
        "x-api-key": client.client_id,
        "x-gw-ims-org-id": client.org_id,
        "x-sandbox-name": client.sandbox,
        "Content-Type": "application/json",
        "Idempotency-Key": key,
    }


def _post_and_hang_up(url: str, path: str, headers: dict[str, str], body: bytes) -> None:
    """Send the request and close the connection without reading a byte of the answer, as a
    client whose response was lost to a timeout or a dropped connection."""
    address = urlsplit(url)
    lines = [f"POST {path} HTTP/1.1", f"Host: {address.netloc}",
             f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        sock.shutdown(socket.SHUT_WR)


def _run_ids(client: SluiceClient, flow_id: str) -> list[str]:
    runs = client.get("runs", {"property": f"flowId=={flow_id}"})["items"]
    return sorted(run["id"] for run in runs)


def test_a_retry_after_a_lost_response_gets_the_one_run(tmp_path: Path) -> None:
    folder = tmp_path / "files" / "orders"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("id,name\n1,a\n")
    with metadata_database() as url, Processes(tmp_path) as processes:
        env = scaled_out_env(tmp_path / "data", url, local_file_roots=str(tmp_path / "files"))
        server = processes.serve(env, "--no-demo", "--workers", "0")
        credentials = provision_client(env, tmp_path / "credentials.json")
        with client_for(server, credentials) as client:
            flow = csv_folder_flow(client, folder)
            body = {"flowId": flow.flow_id, "params": {
                "startTime": "0", "windowStartTime": "0", "windowEndTime": "2000000000"}}
            raw = json.dumps(body).encode()
            path = f"{FLOW_SERVICE}/runs"

            _post_and_hang_up(server.url, path, _headers(client, "lost-1"), raw)
            first = wait_for("the unanswered request's run", lambda: _run_ids(
                client, flow.flow_id) or None, server)
            assert len(first) == 1

            # Every retry gets that run.
            for _ in range(4):
                retry = httpx.post(server.url + path, content=raw,
                                   headers=_headers(client, "lost-1"), timeout=30)
                assert retry.status_code == 201, retry.text
                assert retry.json()["items"][0]["id"] == first[0]
                assert retry.headers["Idempotent-Replayed"] == "true"
            assert _run_ids(client, flow.flow_id) == first

            # Concurrent requests with one new key: one run between them.
            def post() -> httpx.Response:
                return httpx.post(server.url + path, content=raw,
                                  headers=_headers(client, "burst-1"), timeout=60)

            with ThreadPoolExecutor(max_workers=4) as pool:
                answers = list(pool.map(lambda _: post(), range(4)))
            assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
            ids = {a.json()["items"][0]["id"] for a in answers}
            assert len(ids) == 1
            assert _run_ids(client, flow.flow_id) == sorted([*first, *ids])
