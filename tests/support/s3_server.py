"""A real S3-compatible server for the tests: moto's server on loopback, in this process.

One server runs per test process (started on first use, stopped at exit); tests isolate
themselves with buckets of their own (`new_bucket`). The server checks signatures: it knows
one IAM user whose keys `S3Server.auth()` gives, so wrong keys are refused as on AWS.

S3 sets `LastModified` itself when an object is uploaded, so tests cannot choose it: `put`
returns the time the server recorded, and window tests choose windows around it.
"""

from __future__ import annotations

import atexit
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from moto import settings as moto_settings
from moto.core.responses import ActionAuthenticatorMixin
from moto.server import ThreadedMotoServer

from support.net import free_port
from support.servers import once_per_process

HOST = "127.0.0.1"
REGION = "us-east-1"
# The keys moto accepts for requests before signature checks are switched on.
_SETUP_KEY = "testing"
_ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:<port>
    access_key: str
    secret_key: str

    def auth(self, **overrides: Any) -> dict[str, Any]:
        """Auth params of "Access Key Authentication" for this server."""
        return {"s3AccessKey": self.access_key, "s3SecretKey": self.secret_key,
                "endpointUrl": self.endpoint, "region": REGION, **overrides}

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)

    def new_bucket(self, prefix: str = "sluice-test") -> str:
        """A new, empty bucket with a unique name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, body: bytes | str) -> float:
        """Upload an object; the `LastModified` the server gave it, in epoch seconds, as a
        listing reports it (the time windows select files by)."""
        client = self.client()
        client.put_object(Bucket=bucket, Key=key,
                          Body=body.encode() if isinstance(body, str) else body)
        listed = client.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]
        (entry,) = [e for e in listed if e["Key"] == key]
        return float(entry["LastModified"].timestamp())


@once_per_process
def s3_server() -> S3Server:
    """The test process's S3 server, started on first use."""
    return _start()


def _start() -> S3Server:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    moto_server = ThreadedMotoServer(ip_address=HOST, port=free_port(), verbose=False)
    moto_server.start()
    atexit.register(moto_server.stop)
    host, port = moto_server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # Requests are not authenticated yet: make the user whose keys the tests use, then
    # switch signature checks on for every later request.
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id=_SETUP_KEY, aws_secret_access_key=_SETUP_KEY)
    user = f"sluice-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=_ALLOW_ALL)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    ActionAuthenticatorMixin.request_count = 0
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    return S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
