"""An unexpected error over real HTTP: one coded problem document, logged once with its
request id, and the keep-alive connection stays usable for the client's next request."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faulty_server import FAULT_PATH
from processes import FLOW_SERVICE, ServerProcess, answers, free_port, sluice_env, stop, wait_for

LAUNCHER = Path(__file__).with_name("faulty_server.py")


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    out, err = tmp_path / "faulty.out", tmp_path / "faulty.err"
    env = sluice_env(tmp_path / "data")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, str(LAUNCHER), str(port)], env=env,
                                   stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
    server = ServerProcess(process, out, err, "faulty server", f"http://127.0.0.1:{port}",
                           tmp_path / "data")
    try:
        wait_for("the server to answer", lambda: answers(server.url), server)
        yield server
    finally:
        stop(process)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def test_a_500_is_one_coded_problem_logged_once_on_a_connection_that_stays_open(
    faulty: ServerProcess,
) -> None:
    port = int(faulty.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        request = (f"GET {FAULT_PATH} HTTP/1.1\r\nHost: x\r\nx-request-id: boom-1\r\n\r\n")
        sock.sendall(request.encode())
        status, headers, body = _read_response(sock)
        assert status == 500
        assert headers.get("connection", "").lower() != "close"
        problem = json.loads(body)
        assert problem["type"].endswith("FLOW-1500-500")
        assert problem["report"]["request-id"] == "boom-1" == headers["x-request-id"]
        assert "injected" not in body.decode()  # the cause is for the log, not the caller
        # The same socket serves the next request.
        sock.sendall(f"GET {FLOW_SERVICE}/flows HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, _headers, _body = _read_response(sock)
        assert status in (401, 403)  # no credentials: an answer, on the kept connection
    log = faulty.output()
    assert log.count("RuntimeError: a fault injected by the test launcher") == 1, log
    assert log.count("Traceback (most recent call last)") == 1, log
    assert "boom-1" in log
    assert "Exception in ASGI application" not in log


def test_a_pooled_client_keeps_working_after_500s(faulty: ServerProcess) -> None:
    with httpx.Client(base_url=faulty.url, timeout=30) as client:
        for attempt in range(5):
            failed = client.get(FAULT_PATH, headers={"x-request-id": f"pooled-{attempt}"})
            assert failed.status_code == 500
            assert failed.json()["report"]["request-id"] == f"pooled-{attempt}"
            assert client.get(f"{FLOW_SERVICE}/flows").status_code in (401, 403)
    assert faulty.output().count("RuntimeError: a fault injected by the test launcher") == 5
