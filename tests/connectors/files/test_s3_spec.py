"""The Amazon S3 connection spec against a real S3-compatible server (moto, on loopback):
its wire shape, the connection test's verdicts, the host guard, and secrets kept secret."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed
from sluice.connectors.files.s3 import CONNECTOR, SPEC
from sluice.connectors.files.s3_spec import ACCESS_KEY_AUTH
from sluice.connectors.registry import find_spec
from support.callers import Caller, error_code
from support.net import closed_port
from support.s3_server import S3Server

FS = "/data/foundation/flowservice"
S3_SPEC_ID = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
# Recognizable, so a leak into any message is caught; characters special in URLs on purpose.
SESSION_TOKEN = "Fake-Sess10n/Token+Value=="


def verdict(context: ConnectorContext, params: dict[str, Any]) -> str:
    with pytest.raises(ConnectionTestFailed) as caught:
        CONNECTOR.test(context, params)
    return str(caught.value)


def test_spec_is_registered_with_the_reference_id() -> None:
    assert find_spec(S3_SPEC_ID) is SPEC
    wire = SPEC.to_wire()
    assert wire["name"] == "Amazon S3"
    assert wire["attributes"]["category"] == {"key": "cloudStorage"}
    assert wire["sourceSpec"]["type"] == "File"
    (auth,) = wire["authSpec"]
    assert (auth["name"], auth["type"]) == ("Access Key Authentication", "AccessKey")
    assert ACCESS_KEY_AUTH.secret_fields == frozenset({"s3SecretKey", "sessionToken"})
    compression = wire["sourceSpec"]["spec"]["properties"]["data"]["properties"]["properties"]
    assert "zipDeflate" in compression["properties"]["compressionType"]["enum"]


def test_good_keys_and_bucket_pass(context: ConnectorContext, s3: S3Server) -> None:
    bucket = s3.new_bucket("spec")
    s3.put(bucket, "in/a.csv", "id\n1\n")
    CONNECTOR.test(context, s3.auth(bucketName=bucket))
    CONNECTOR.test(context, s3.auth(bucketName=bucket, folderPath="in"))
    CONNECTOR.test(context, s3.auth())  # no bucket: the keys may list the buckets
    assert "refused the credentials" in verdict(
        context, s3.auth(bucketName=bucket, s3SecretKey="Wrong/Secret+Key=="))


def test_missing_bucket_and_folder_fail_clearly(context: ConnectorContext, s3: S3Server) -> None:
    assert verdict(context, s3.auth(bucketName="no-such-bucket-here")) == (
        "The bucket 'no-such-bucket-here' does not exist.")
    bucket = s3.new_bucket("spec")
    message = verdict(context, s3.auth(bucketName=bucket, folderPath="nowhere"))
    assert message == f"The folder 's3://{bucket}/nowhere' does not exist."


def test_wrong_keys_fail_without_the_secret(context: ConnectorContext, s3: S3Server) -> None:
    bucket = s3.new_bucket("spec")
    wrong = "Wrong/Secret+Key=="
    for params in (s3.auth(bucketName=bucket, s3SecretKey=wrong),
                   s3.auth(bucketName=bucket, s3AccessKey="AKIAUNKNOWN000000000"),
                   s3.auth(s3SecretKey=wrong, sessionToken=SESSION_TOKEN)):
        message = verdict(context, params)
        assert "refused the credentials" in message
        for secret in (wrong, s3.secret_key, SESSION_TOKEN):
            assert secret not in message


def test_unreachable_endpoint_fails(context: ConnectorContext, s3: S3Server) -> None:
    message = verdict(context, s3.auth(bucketName="b-1", endpointUrl=f"http://127.0.0.1:{closed_port()}"))
    assert message.startswith("S3 could not be reached")
    assert s3.secret_key not in message


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("http://169.254.169.254", "metadata endpoint"),
    ("http://169.254.10.1:9000", "link-local"),
    ("http://[fe80::1]:9000", "link-local"),
    ("ftp://minio.internal", "http:// or https://"),
    ("http://user:pass@127.0.0.1:9000", "must not hold credentials"),
])
def test_endpoint_is_guarded(context: ConnectorContext, s3: S3Server, endpoint: str,
                             expected: str) -> None:
    assert expected in verdict(context, s3.auth(endpointUrl=endpoint))
    with pytest.raises(ConnectionTestFailed, match=expected):
        CONNECTOR.validate_auth(context, s3.auth(endpointUrl=endpoint))


def test_operator_may_allow_a_refused_host(context: ConnectorContext, s3: S3Server) -> None:
    allowed = ConnectorContext(context.allowed_file_roots, context.lake_dir,
                               context.metadata_database_url, allowed_hosts=("169.254.0.0/16",))
    CONNECTOR.validate_auth(allowed, s3.auth(endpointUrl="http://169.254.10.1:9000"))
    with pytest.raises(ConnectionTestFailed, match="link-local"):  # without the allow list
        CONNECTOR.validate_auth(context, s3.auth(endpointUrl="http://169.254.10.1:9000"))


@pytest.mark.parametrize(("params", "expected"), [
    ({"s3AccessKey": "", "s3SecretKey": "x"}, "needs s3AccessKey and s3SecretKey"),
    ({"s3AccessKey": "k", "s3SecretKey": "x", "folderPath": "in"}, "folderPath needs bucketName"),
    ({"s3AccessKey": "k", "s3SecretKey": "x", "bucketName": "bucket-1",
      "folderPath": "a/../.."},
     "must not contain '..'"),
    ({"s3AccessKey": "k", "s3SecretKey": "x", "bucketName": "no/slash"}, "not a valid bucket"),
])
def test_params_are_checked_before_any_request(context: ConnectorContext,
                                               params: dict[str, Any], expected: str) -> None:
    assert expected in verdict(context, params)


def s3_connection(s3: S3Server, bucket: str, **overrides: Any) -> dict[str, Any]:
    return {"name": "s3 connection", "connectionSpec": {"id": S3_SPEC_ID, "version": "1.0"},
            "auth": {"specName": "Access Key Authentication",
                     "params": s3.auth(bucketName=bucket, **overrides)}}


def test_api_masks_the_secrets_and_tests_the_connection(caller: Caller, s3: S3Server) -> None:
    bucket = s3.new_bucket("api")
    s3.put(bucket, "a.csv", "id\n1\n")
    created = caller.post(f"{FS}/connections", json=s3_connection(s3, bucket))
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    assert caller.get(f"{FS}/connections/{connection_id}/test").json() == {"result": True}
    response = caller.get(f"{FS}/connections/{connection_id}")
    assert s3.secret_key not in response.text
    params = response.json()["items"][0]["auth"]["params"]
    assert params["s3SecretKey"] == "********"
    assert params["s3AccessKey"] == s3.access_key and params["bucketName"] == bucket
    # A session token is a secret too; this fake one makes S3 refuse the keys, safely.
    with_token = caller.post(f"{FS}/connections",
                             json=s3_connection(s3, bucket, sessionToken=SESSION_TOKEN))
    token_id = with_token.json()["id"]
    shown = caller.get(f"{FS}/connections/{token_id}").json()["items"][0]["auth"]["params"]
    assert shown["sessionToken"] == "********"
    tested = caller.get(f"{FS}/connections/{token_id}/test").json()
    assert tested["result"] is False and "refused the credentials" in tested["message"]
    listed = caller.get(f"{FS}/connections")
    for secret in (s3.secret_key, SESSION_TOKEN):
        assert secret not in listed.text and secret not in tested["message"]


def test_api_refuses_a_metadata_endpoint_and_reports_a_missing_bucket(
    caller: Caller, s3: S3Server
) -> None:
    refused = caller.post(f"{FS}/connections",
                          json=s3_connection(s3, "b-1", endpointUrl="http://169.254.169.254"))
    assert refused.status_code == 400
    assert error_code(refused) == "FLOW-1000-400"
    assert s3.secret_key not in refused.text
    created = caller.post(f"{FS}/connections", json=s3_connection(s3, "missing-bucket-api"))
    tested = caller.get(f"{FS}/connections/{created.json()['id']}/test").json()
    assert tested["result"] is False
    assert "does not exist" in tested["message"] and s3.secret_key not in tested["message"]
