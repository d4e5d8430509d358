"""The Amazon S3 connection spec: access keys, a bucket and an optional S3-compatible endpoint.

No driver, no Arrow: the registry lists it without importing the connector (files/s3.py).
"""

from __future__ import annotations

from sluice.connectors.files.file_spec import file_connection_spec
from sluice.connectors.spec_schemas import auth_spec

# S3's bucket naming rules (3-63 lowercase letters, digits, dots and hyphens), loosened to
# the underscores and capitals some S3-compatible servers accept.
BUCKET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$"

ACCESS_KEY_AUTH = auth_spec(
    "Access Key Authentication",
    "AccessKey",
    {
        "s3AccessKey": {"type": "string", "minLength": 1, "description": "Access key ID."},
        "s3SecretKey": {"type": "string", "minLength": 1, "format": "password"},
        "sessionToken": {
            "type": "string",
            "format": "password",
            "description": "For temporary credentials.",
        },
        "bucketName": {
            "type": "string",
            "pattern": BUCKET_NAME_PATTERN,
            "description": "The bucket to read; without it, paths start with the bucket.",
        },
        "folderPath": {
            "type": "string",
            "pattern": r"^(?!(.*/)?\.\.(/|$))",
            "description": "A folder (key prefix) inside the bucket that paths start from.",
        },
        "endpointUrl": {
            "type": "string",
            "pattern": r"^https?://",
            "description": "An S3-compatible server, e.g. http://minio.internal:9000.",
        },
        "region": {"type": "string", "pattern": r"^[a-z0-9-]+$"},
    },
    ["s3AccessKey", "s3SecretKey"],
)


SPEC = file_connection_spec(
    id="ecadc60c-7455-4d87-84dc-2a0e293d997b",
    name="Amazon S3",
    description="Delimited, JSON and Parquet files in an Amazon S3 bucket or on an"
    " S3-compatible server (MinIO, Ceph, ...).",
    auth_specs=(ACCESS_KEY_AUTH,),
)
