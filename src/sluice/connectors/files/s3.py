"""The Amazon S3 (and S3-compatible storage) files connector, read through s3fs.

A connection names keys, an optional bucket and folder (its root), and for S3-compatible
servers an `endpointUrl`, whose host goes through the host guard. The keys are always the
connection's own: Sluice never falls back to the server's environment or instance role.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed
from sluice.connectors.files.connector import check_root, file_connector
from sluice.connectors.files.location import FileLocation
from sluice.connectors.files.s3_spec import BUCKET_NAME_PATTERN, SPEC
from sluice.connectors.files.selection import (
    PathRefusedError,
    StorageFailure,
    describe_storage_failure,
    relative_parts,
    storage_failure,
)
from sluice.connectors.host_guard import guard_url

# botocore's DEBUG log prints each request's headers, the session token among them: keep
# the AWS client libraries at INFO even when the server runs with --log-level debug.
for _library in ("botocore", "aiobotocore", "s3fs"):
    logging.getLogger(_library).setLevel(logging.INFO)

# Short enough that an unreachable endpoint fails a test or a run attempt fast (the run's
# own retries of a transient error take over), long enough for a slow network.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
# Attempts per request, by botocore and by s3fs around it.
_BOTOCORE_ATTEMPTS = 2
_S3FS_RETRIES = 2


def _endpoint(context: ConnectorContext, params: Mapping[str, Any]) -> str | None:
    endpoint = str(params.get("endpointUrl") or "").strip()
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionTestFailed("endpointUrl must be an http:// or https:// URL with a host.")
    if parts.username is not None or parts.password is not None:
        raise ConnectionTestFailed(
            "endpointUrl must not hold credentials; use s3AccessKey and s3SecretKey."
        )
    guard_url(context, endpoint)
    return endpoint


def _root(params: Mapping[str, Any]) -> str:
    bucket = str(params.get("bucketName") or "").strip()
    if bucket and not re.match(BUCKET_NAME_PATTERN, bucket):
        raise ConnectionTestFailed(f"The bucket name {bucket!r} is not a valid bucket name.")
    folder = str(params.get("folderPath") or "")
    if folder and not bucket:
        raise ConnectionTestFailed("folderPath needs bucketName.")
    try:
        parts = relative_parts(folder)
    except PathRefusedError:
        raise ConnectionTestFailed(f"folderPath {folder!r} must not contain '..'.") from None
    return "/".join([bucket, *parts]) if bucket else ""


def open_s3(context: ConnectorContext, params: Mapping[str, Any]) -> FileLocation:
    """The connection's bucket and folder on S3 or the S3-compatible server it names."""
    access_key = str(params.get("s3AccessKey") or "")
    secret_key = str(params.get("s3SecretKey") or "")
    if not access_key or not secret_key:
        # Without both, botocore would fall back to the Sluice server's own credentials.
        raise ConnectionTestFailed("The connection needs s3AccessKey and s3SecretKey.")
    endpoint = _endpoint(context, params)
    root = _root(params)
    region = str(params.get("region") or "").strip() or None
    import s3fs  # here: s3fs and aiobotocore take seconds to import, and only S3 needs them

    fs = s3fs.S3FileSystem(
        key=access_key,
        secret=secret_key,
        token=str(params.get("sessionToken") or "") or None,
        endpoint_url=endpoint,
        client_kwargs={"region_name": region} if region else {},
        config_kwargs={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "read_timeout": READ_TIMEOUT_SECONDS,
            "retries": {"max_attempts": _BOTOCORE_ATTEMPTS, "mode": "standard"},
        },
        # A fresh client per connection (no instance shared across tenants' credentials) and
        # no listings cache (a window must see the modification times as they are now).
        skip_instance_cache=True,
        use_listings_cache=False,
    )
    fs.retries = _S3FS_RETRIES
    display = f"s3://{root}" if root else "s3://"
    return FileLocation(fs=fs, root=root, display=display)


def validate_auth(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """What can be checked without reaching S3: the endpoint's host, the bucket and folder."""
    _endpoint(context, params)
    _root(params)


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """The keys are accepted and the bucket (and folder) exist and can be listed."""
    location = open_s3(context, params)
    bucket = location.root.split("/", 1)[0]
    try:
        if bucket:
            location.fs.info(bucket)
        else:
            location.fs.ls("", detail=False)  # lists the buckets: checks the keys
    except Exception as error:  # the backend's own error types vary
        failure = storage_failure(error)
        if failure is StorageFailure.MISSING:
            raise ConnectionTestFailed(f"The bucket {bucket!r} does not exist.") from None
        if failure in (StorageFailure.DENIED, StorageFailure.REFUSED):
            # A 403 (wrong keys, no permission) or a 400 (a malformed session token, a
            # bucket in another region): both are about the credentials the user gave.
            raise ConnectionTestFailed(
                "S3 refused the credentials"
                + (f" for the bucket {bucket!r}" if bucket else "")
                + ": check the access key, the secret key, the session token, their"
                " permissions and the region."
            ) from None
        raise ConnectionTestFailed(
            f"S3 could not be reached: {describe_storage_failure(error)}"
        ) from None
    check_root(location)


CONNECTOR = file_connector(
    SPEC,
    opener=open_s3,
    validate_auth=validate_auth,
    tester=check_connection,
)
