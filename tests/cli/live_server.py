"""A real Sluice HTTP server on a free loopback port, run in a thread, for client-side tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from sluice.api.app import create_app
from sluice.bootstrap import ensure_default_tenant
from sluice.client import Credentials
from sluice.config import Settings
from sluice.store.db import make_engine, make_session_factory


@dataclass(frozen=True)
class LiveServer:
    url: str
    settings: Settings
    credentials: Credentials


@contextmanager
def live_server(data_dir: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=data_dir)
    app = create_app(settings)
    engine = make_engine(settings.resolved_database_url)
    credentials = ensure_default_tenant(settings, make_session_factory(engine))
    engine.dispose()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, credentials)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
