"""PostgreSQL and SQLAlchemy connections are checked when created and when patched, like
REST connections: a refused host, a libpq key that reads the server's files, or a string that
does not parse is a coded 400 that stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from support.api_bodies import (
    FS,
    created_id,
    postgres_connection,
    postgres_string_connection,
    sqlalchemy_connection,
)
from support.callers import Caller, error_code

BAD_CONNECTION_STRINGS = [
    "host=169.254.169.254 port=5432 dbname=test user=postgres",
    "postgresql://postgres@169.254.169.254:5432/test",
    "host=127.0.0.1 dbname=test user=postgres passfile=/etc/passwd",
    "host=127.0.0.1 dbname=test user=postgres hostaddr=169.254.169.254",
    "host='127.0.0.1 dbname=test",  # unbalanced quote
    "postgresql://[::1:5432/test",
    "not a connection string at all",
]
BAD_URLS = [
    "postgresql+psycopg://u:pw@169.254.169.254:5432/test",
    "mysql+pymysql://u:pw@[::ffff:169.254.169.254]:3306/test",
    "postgresql+psycopg://u:pw@127.0.0.1/test?passfile=/etc/passwd",
    "postgresql+psycopg://u:pw@127.0.0.1:port/test",
    "::::",
]


def _count(caller: Caller) -> int:
    return int(caller.get(f"{FS}/connections?count=true").json()["count"])


def _refused(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1000-400"


@pytest.mark.parametrize("conninfo", BAD_CONNECTION_STRINGS)
def test_postgresql_connection_strings_are_refused_at_create(
    caller: Caller, conninfo: str
) -> None:
    _refused(caller.post(f"{FS}/connections", json=postgres_string_connection(conninfo)))
    assert _count(caller) == 0


def test_postgresql_basic_auth_to_the_metadata_address_is_refused_at_create(
    caller: Caller,
) -> None:
    body = postgres_connection()
    body["auth"]["params"]["host"] = "169.254.169.254"
    _refused(caller.post(f"{FS}/connections", json=body))
    assert _count(caller) == 0


@pytest.mark.parametrize("url", BAD_URLS)
def test_sqlalchemy_urls_are_refused_at_create(caller: Caller, url: str) -> None:
    _refused(caller.post(f"{FS}/connections", json=sqlalchemy_connection(url)))
    assert _count(caller) == 0


def _patch_auth(caller: Caller, connection_id: str, params: dict[str, Any]) -> Any:
    etag = caller.get(f"{FS}/connections/{connection_id}").json()["items"][0]["etag"]
    return caller.patch(
        f"{FS}/connections/{connection_id}",
        json=[{"op": "replace", "path": "/auth/params", "value": params}],
        headers={"If-Match": etag},
    )


@pytest.mark.parametrize("conninfo", BAD_CONNECTION_STRINGS[:4])
def test_postgresql_connection_strings_are_refused_at_patch(
    caller: Caller, conninfo: str
) -> None:
    good = "host=127.0.0.1 port=5432 dbname=test user=postgres password=pw"
    body = postgres_string_connection(good)
    connection_id = created_id(caller.post(f"{FS}/connections", json=body))
    before = caller.get(f"{FS}/connections/{connection_id}").json()["items"][0]
    _refused(_patch_auth(caller, connection_id, {"connectionString": conninfo}))
    assert caller.get(f"{FS}/connections/{connection_id}").json()["items"][0] == before


@pytest.mark.parametrize("url", BAD_URLS[:4])
def test_sqlalchemy_urls_are_refused_at_patch(caller: Caller, url: str) -> None:
    good = "postgresql+psycopg://u:pw@127.0.0.1:5432/test"
    connection_id = created_id(caller.post(f"{FS}/connections", json=sqlalchemy_connection(good)))
    before = caller.get(f"{FS}/connections/{connection_id}").json()["items"][0]
    _refused(_patch_auth(caller, connection_id, {"url": url}))
    assert caller.get(f"{FS}/connections/{connection_id}").json()["items"][0] == before


def test_a_continuation_token_works_only_on_the_collection_that_issued_it(caller: Caller) -> None:
    # Two connections, one per page: the first page's token belongs to /connections.
    for name in ("a", "b"):
        created_id(caller.post(f"{FS}/connections", json=postgres_connection(name)))
    page = caller.get(f"{FS}/connections?limit=1").json()
    token = page["_links"]["next"]["href"].split("continuationToken=", 1)[1].split("&")[0]
    assert caller.get(f"{FS}/connections", params={"continuationToken": token}).status_code == 200
    for other in ("flows", "runs", "sourceConnections"):
        response = caller.get(f"{FS}/{other}", params={"continuationToken": token})
        assert response.status_code == 400, (other, response.text)
        assert error_code(response) == "FLOW-1452-400"
