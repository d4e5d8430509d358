"""A real Azure Blob Storage endpoint for the tests: the Azurite emulator on loopback.

Azurite is an npm package that `make test` installs into `.cache/azurite` (never at test
time). One emulator runs per test process (started on first use, stopped at exit) with its
data in a temporary folder; tests keep apart with containers of their own (`new_container`).
The account is Azurite's well-known development account. Blob Storage sets a blob's
`Last-Modified` itself, so `upload` returns the time the server recorded and window tests
choose windows around it.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from support.net import free_port
from support.servers import once_per_process

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BLOB = REPO_ROOT / ".cache" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
HOST = "127.0.0.1"
# Azurite's documented development account: public, and only valid against an emulator.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_START_TIMEOUT_SECONDS = 60.0
_STOP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Azurite:
    host: str
    port: int
    account_name: str
    account_key: str

    @property
    def blob_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
                f"AccountKey={self.account_key};BlobEndpoint={self.blob_endpoint};")

    def connection_string_auth(self, **overrides: Any) -> dict[str, Any]:
        """Auth params of "Connection String Authentication" for this emulator."""
        return {"connectionString": self.connection_string, **overrides}

    def account_key_auth(self, **overrides: Any) -> dict[str, Any]:
        """Auth params of "Account Key Authentication" for this emulator."""
        return {"accountName": self.account_name, "accountKey": self.account_key,
                "blobEndpoint": self.blob_endpoint, **overrides}

    def client(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.connection_string)

    def new_container(self, prefix: str = "sluice-test") -> str:
        """A new, empty container with a unique name."""
        name = f"{prefix}-{uuid.uuid4().hex[:16]}"
        self.client().create_container(name)
        return name

    def upload(self, container: str, name: str, body: bytes | str) -> float:
        """Upload a blob; the `Last-Modified` the server gave it, in epoch seconds (the time
        windows select files by)."""
        data = body.encode() if isinstance(body, str) else body
        blob = self.client().get_blob_client(container, name)
        blob.upload_blob(data, overwrite=True)
        return float(blob.get_blob_properties().last_modified.timestamp())


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1.0)  # any HTTP answer (403 without a signature) will do
    except httpx.HTTPError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes], folder: Path) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def _start() -> Azurite:
    if not AZURITE_BLOB.exists():
        pytest.fail(f"The Azurite emulator is not installed ({AZURITE_BLOB} is missing): run"
                    " `make test`, whose `azurite` target installs it, or `make azurite`.")
    folder = Path(tempfile.mkdtemp(prefix="sluice-azurite-"))
    log_path = folder / "azurite.log"
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(AZURITE_BLOB), "--blobHost", HOST, "--blobPort", str(port),
             "--location", str(folder / "data"), "--silent", "--skipApiVersionCheck",
             "--loose"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    emulator = Azurite(HOST, port, ACCOUNT_NAME, ACCOUNT_KEY)
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while not _answers(emulator.blob_endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            output = log_path.read_text(errors="replace")
            _stop(process, folder)
            pytest.fail(f"Azurite did not start on {HOST}:{port}:\n{output}")
        time.sleep(0.1)
    atexit.register(_stop, process, folder)
    return emulator


@once_per_process
def azurite() -> Azurite:
    """The test process's emulator, started on first use."""
    return _start()
