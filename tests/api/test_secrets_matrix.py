"""Secrets as a matrix: every secret field (the auth specs' `format: password` fields) of
every connection spec, given a unique marker value, then searched for in every response,
the log, `/metrics`, the dashboard pages and the metadata database's files and rows.

The fields are read from the registered specs; `SAMPLES` gives each auth spec's other
params, and `test_every_auth_spec_has_a_sample` fails when a new spec or auth spec arrives
without one, so a new secret field is searched without anyone writing a test for it.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select
from test_tenancy_matrix import operations

from sluice.config import Settings
from sluice.connectors.registry import all_specs
from sluice.store.db import make_engine
from support.api_bodies import FS
from support.callers import Caller
from ui.ui_support import login

CLOSED = "127.0.0.1:9"  # nothing listens: tests and explores fail, with their messages
# (spec name, auth spec name) -> params; "{marker}" in a value stands for that field's secret.
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("PostgreSQL", "Connection String Based Authentication"): {
        "connectionString": "host=127.0.0.1 port=9 dbname=test user=u password={marker}"},
    ("PostgreSQL", "Basic Authentication"): {
        "host": "127.0.0.1", "port": 9, "database": "test", "username": "u"},
    ("SQLite", "File Path Authentication"): {"path": "{root}/none.db"},
    ("Local Files", "Local Folder Authentication"): {"rootPath": "{root}"},
    ("MySQL", "Connection String Based Authentication"): {
        "connectionString": f"mysql://u:{{marker}}@{CLOSED}/test"},
    ("MySQL", "Basic Authentication"): {
        "host": "127.0.0.1", "port": 9, "database": "test", "username": "u"},
    ("SQL Database (SQLAlchemy)", "SQLAlchemy URL Authentication"): {
        "url": f"postgresql+psycopg://u:{{marker}}@{CLOSED}/test"},
    ("Amazon S3", "Access Key Authentication"): {
        "s3AccessKey": "AKIAEXAMPLE", "endpointUrl": f"http://{CLOSED}", "region": "us-east-1",
        "bucketName": "bucket"},
    ("SFTP", "Basic Authentication for SFTP"): {
        "host": "127.0.0.1", "port": 9, "username": "u"},
    ("SFTP", "SSH Public Key Authentication for SFTP"): {
        "host": "127.0.0.1", "port": 9, "username": "u"},
    ("Azure Blob Storage", "Connection String Authentication"): {
        "connectionString": "DefaultEndpointsProtocol=http;AccountName=acct;"
        f"AccountKey={{marker}};BlobEndpoint=http://{CLOSED}/acct;"},
    ("Azure Blob Storage", "Account Key Authentication"): {
        "accountName": "acct", "blobEndpoint": f"http://{CLOSED}/acct"},
    ("Generic REST API", "API Key Authentication"): {"baseUrl": f"http://{CLOSED}/api"},
    ("Generic REST API", "Bearer Token Authentication"): {"baseUrl": f"http://{CLOSED}/api"},
    ("Generic REST API", "Basic Authentication"): {
        "baseUrl": f"http://{CLOSED}/api", "username": "u"},
    ("Generic REST API", "No Authentication"): {"baseUrl": f"http://{CLOSED}/api"},
    # The example third-party connector (examples/sluice-calendar), found by entry point.
    ("Calendar (example)", "Token Authentication"): {"startDate": "2024-05-01"},
}


def _marker() -> str:
    # Letters and digits only: valid in base64 keys, URLs and libpq strings alike.
    return "Sekr1t" + secrets.token_hex(10)


def _private_key(passphrase: str) -> tuple[str, str]:
    """An encrypted PKCS#8 private key and the part of it to search for (its body)."""
    key = ed25519.Ed25519PrivateKey.generate()
    text = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode())).decode()
    body = text.splitlines()[2]
    return text, body


def _params(sample: dict[str, Any], secret_fields: frozenset[str], root: Path,
            markers: list[str]) -> dict[str, Any]:
    params = {k: (v.replace("{root}", str(root)) if isinstance(v, str) else v)
              for k, v in sample.items()}
    for field in sorted(secret_fields):
        if field == "privateKeyContent":
            continue
        marker = _marker()
        if field == "accountKey" or (field in sample and "AccountKey" in str(sample[field])):
            marker = base64.b64encode(marker.encode()).decode()
        markers.append(marker)
        template = str(params.get(field, "{marker}"))
        params[field] = template.replace("{marker}", marker) if "{marker}" in template \
            else marker
    if "privateKeyContent" in secret_fields:
        passphrase = params.get("passPhrase", _marker())
        params["passPhrase"] = passphrase
        if passphrase not in markers:
            markers.append(passphrase)
        params["privateKeyContent"], body = _private_key(passphrase)
        markers.append(body)
    return params


def test_every_auth_spec_has_a_sample() -> None:
    offered = {(spec.name, auth.name) for spec in all_specs() for auth in spec.auth_specs}
    assert offered == set(SAMPLES)
    assert sum(len(a.secret_fields) for s in all_specs() for a in s.auth_specs) >= 15


@pytest.fixture
def created(caller: Caller, settings: Settings) -> Iterator[tuple[list[str], list[str]]]:
    """Every auth spec's connection, with marker secrets; (markers, connection ids)."""
    markers: list[str] = []
    ids: list[str] = []
    root = Path(settings.allowed_file_roots[0])
    for spec in all_specs():
        for auth in spec.auth_specs:
            params = _params(SAMPLES[(spec.name, auth.name)], auth.secret_fields, root, markers)
            response = caller.post(f"{FS}/connections", json={
                "name": f"{spec.name} {auth.name}", "connectionSpec": {"id": spec.id},
                "auth": {"specName": auth.name, "params": params}})
            assert response.status_code == 201, (spec.name, auth.name, response.text)
            ids.append(response.json()["id"])
    yield markers, ids


def _responses(caller: Caller, ids: list[str]) -> Iterator[str]:
    for connection_id in ids:
        item = caller.get(f"{FS}/connections/{connection_id}")
        yield item.text
        etag = item.json()["items"][0]["etag"]
        yield caller.patch(f"{FS}/connections/{connection_id}", headers={"If-Match": etag},
                           json=[{"op": "replace", "path": "/name", "value": "renamed"}]).text
        yield caller.get(f"{FS}/connections/{connection_id}/test").text
        yield caller.get(f"{FS}/connections/{connection_id}/explore",
                         params={"objectType": "root"}).text
    # Every list of the API, as the owner sees it.
    for method, template, _query in operations(caller):
        if method == "GET" and "{" not in template:
            yield caller.get(template).text


def _metadata_rows(settings: Settings) -> str:
    engine = make_engine(settings.resolved_database_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return "\n".join(str(row) for table in metadata.sorted_tables
                             for row in connection.execute(select(table)))
    finally:
        engine.dispose()


def _data_dir_bytes(settings: Settings) -> bytes:
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    database = settings.resolved_database_url.removeprefix("sqlite:///")
    files += [Path(database + suffix) for suffix in ("", "-wal", "-journal")
              if Path(database + suffix).is_file()]
    return b"\n".join(p.read_bytes() for p in files)


def test_no_secret_appears_anywhere(
    created: tuple[list[str], list[str]], caller: Caller, app_client: TestClient,
    settings: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    markers, ids = created
    caplog.set_level(logging.DEBUG)
    places: dict[str, str | bytes] = {}
    for index, text in enumerate(_responses(caller, ids)):
        places[f"response {index}"] = text
    places["/metrics"] = app_client.get("/metrics").text
    login(app_client, caller)
    for page in ("/ui/connections", "/ui/flows", "/ui/datasets"):
        response = app_client.get(page)
        assert response.status_code == 200
        places[page] = response.text
    places["log"] = caplog.text
    places["metadata rows"] = _metadata_rows(settings)
    places["metadata files"] = _data_dir_bytes(settings)
    leaks = [(marker, where) for marker in markers for where, text in places.items()
             if (marker.encode() if isinstance(text, bytes) else marker) in text]
    logged = [line for line in caplog.text.splitlines() if any(m in line for m, _ in leaks)]
    assert leaks == [], logged[:5]
    assert len(markers) >= 15 and len(places) >= 4 * len(ids)
