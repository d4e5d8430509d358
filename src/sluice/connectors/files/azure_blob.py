"""The Azure Blob Storage files connector: blobs in a storage account, through adlfs.

A connection gives a connection string, or an account name and key (with `blobEndpoint` for
an emulator or a sovereign cloud). `container` and `folderPath` narrow the root; without a
container the root is the whole account, whose first path segment is the container. Opening
checks the credentials and the container once, so a wrong key or a missing container is a
clear, terminal verdict rather than a run that retries.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from adlfs import AzureBlobFileSystem
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient, LinearRetry
from fsspec.asyn import sync

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed
from sluice.connectors.files.azure_blob_spec import SPEC
from sluice.connectors.files.connector import file_connector
from sluice.connectors.files.location import FileLocation
from sluice.connectors.host_guard import guard_url

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 120
# The storage SDK's default retries (back-off from 15 s) spend most of a minute on an
# unreachable endpoint before answering; a run retries transient failures itself.
RETRIES = 2
RETRY_BACKOFF_SECONDS = 1


def _connection_string(params: Mapping[str, Any]) -> str:
    if params.get("connectionString"):
        return str(params["connectionString"])
    account = str(params.get("accountName", ""))
    key = str(params.get("accountKey", ""))
    # The schema keeps `;` out of these values, so they cannot add settings of their own.
    if any(";" in value for value in (account, key, str(params.get("blobEndpoint", "")))):
        raise ConnectionTestFailed("accountName, accountKey and blobEndpoint may not hold ';'.")
    endpoint = params.get("blobEndpoint")
    where = f"BlobEndpoint={endpoint};" if endpoint else "EndpointSuffix=core.windows.net;"
    return f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};{where}"


def _service_client(params: Mapping[str, Any]) -> BlobServiceClient:
    try:
        return BlobServiceClient.from_connection_string(
            _connection_string(params),
            retry_policy=LinearRetry(
                backoff=RETRY_BACKOFF_SECONDS, retry_total=RETRIES, random_jitter_range=1
            ),
            connection_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        )
    except ValueError:  # its message may quote the string: not shown
        raise ConnectionTestFailed(
            "The connection string is not an Azure Storage connection string (it needs"
            " AccountName and AccountKey or SharedAccessSignature, or BlobEndpoint)."
        ) from None


class _AzureBlobFileSystem(AzureBlobFileSystem):  # type: ignore[misc]  # adlfs is untyped
    """adlfs on a service client Sluice configured (bounded retries and timeouts)."""

    def __init__(self, service_client: BlobServiceClient, connection_string: str) -> None:
        self._sluice_client = service_client
        super().__init__(connection_string=connection_string, skip_instance_cache=True)

    def do_connect(self) -> None:
        self.service_client = self._sluice_client


def _endpoint(client: BlobServiceClient) -> str:
    """The account's URL without its query, which holds a SAS token when there is one."""
    parts = urlsplit(client.url)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


async def _check_access(client: BlobServiceClient, container: str | None) -> None:
    """One request proving the credentials work (and the container exists)."""
    if container:
        await client.get_container_client(container).get_container_properties()
    else:
        async for _ in client.list_containers(results_per_page=1).by_page():
            break


def _verdict(error: HttpResponseError, shown: str, container: str | None) -> str:
    """A terminal HTTP answer as a message; the service's own text is not quoted (it may
    echo request signatures)."""
    if isinstance(error, ResourceNotFoundError) and container:
        return f"The container {container!r} does not exist in {shown}."
    code = getattr(error, "error_code", None) or error.reason or "an error"
    code = getattr(code, "value", code)  # StorageErrorCode members print their class
    if error.status_code in (401, 403):
        return (
            f"{shown} refused the credentials ({code}): check the account key, connection"
            " string or SAS token and its permissions."
        )
    return f"{shown} answered {error.status_code} ({code})."


def _root(params: Mapping[str, Any]) -> tuple[str | None, str]:
    """(container or None, the root under the account)."""
    container = str(params["container"]) if params.get("container") else None
    folder = str(params.get("folderPath") or "").strip("/")
    if folder and not container:
        raise ConnectionTestFailed("folderPath needs a container.")
    return container, "/".join(p for p in (container, folder) if p)


def validate_auth(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """What can be checked without a request: the connection string, the endpoint's host,
    the container and folder."""
    guard_url(context, _endpoint(_service_client(params)))
    _root(params)


def open_azure_blob(context: ConnectorContext, params: Mapping[str, Any]) -> FileLocation:
    """The account (or container, or folder) of a connection, its credentials checked."""
    container, root = _root(params)
    client = _service_client(params)
    endpoint = _endpoint(client)
    guard_url(context, endpoint)
    fs = _AzureBlobFileSystem(client, _connection_string(params))
    try:
        sync(fs.loop, _check_access, client, container)
    except BaseException as error:
        sync(fs.loop, client.close)  # now, not when the filesystem is garbage-collected
        if isinstance(error, HttpResponseError) and 400 <= (error.status_code or 0) < 500:
            raise ConnectionTestFailed(_verdict(error, endpoint, container)) from None
        raise
    location = FileLocation(fs=fs, root=root, display=f"{endpoint}/{root}" if root else endpoint)
    # The filesystem sits in reference cycles that only the cycle collector frees, holding
    # the HTTP session open until then; the location is freed as soon as its user lets go.
    # close() runs the finalizer now; otherwise it runs when the location is freed.
    location.closer = weakref.finalize(location, _close_soon, client, fs.loop)
    return location


def _close_soon(client: BlobServiceClient, loop: asyncio.AbstractEventLoop) -> None:
    """Close the client on fsspec's loop, without waiting (finalizers may run anywhere)."""
    asyncio.run_coroutine_threadsafe(client.close(), loop)


CONNECTOR = file_connector(
    SPEC,
    opener=open_azure_blob,
    validate_auth=validate_auth,
)
