"""The Generic REST API spec: its connection test per auth kind, its listing, and the checks
of connections and source connections through the API (coded 400s that create nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed, ExploreError
from sluice.connectors.host_guard import HostRefusedError
from sluice.connectors.registry import find_spec
from sluice.connectors.rest.spec import CONNECTOR, SPEC
from support.callers import Caller, error_code
from support.net import closed_port
from support.rest_server import API_KEY, PASSWORD, TOKEN, USERNAME, RestServer, running_rest_server

FS = "/data/foundation/flowservice"


def create_connection(caller: Caller, spec_name: str, params: dict[str, Any]) -> str:
    response = caller.post(f"{FS}/connections", json={
        "name": "rest", "connectionSpec": {"id": SPEC.id, "version": "1.0"},
        "auth": {"specName": spec_name, "params": params}})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def server() -> Iterator[RestServer]:
    with running_rest_server() as running:
        yield running


GOOD = {
    "open": {},
    "key": {"apiKey": API_KEY},
    "bearer": {"token": TOKEN},
    "basic": {"username": USERNAME, "password": PASSWORD},
}
WRONG = {
    "key": {"apiKey": "Wrong-K3y/Secret"},
    "bearer": {"token": "Wrong-T0ken/Secret"},
    "basic": {"username": USERNAME, "password": "Wrong-Pa55/Secret"},
}


def verdict(context: ConnectorContext, params: dict[str, Any]) -> str | None:
    try:
        CONNECTOR.test(context, params)
    except ConnectionTestFailed as failed:
        return str(failed)
    return None


def test_the_spec_is_registered_as_a_protocols_table_source() -> None:
    assert find_spec(SPEC.id) is SPEC
    wire = SPEC.to_wire()
    assert wire["attributes"]["category"] == {"key": "protocols"}
    assert wire["sourceSpec"]["type"] == "Table"
    assert [a["name"] for a in wire["authSpec"]] == [
        "API Key Authentication", "Bearer Token Authentication", "Basic Authentication",
        "No Authentication"]
    secrets = {a.name: a.secret_fields for a in SPEC.auth_specs}
    assert secrets["API Key Authentication"] == {"apiKey"}
    assert secrets["Bearer Token Authentication"] == {"token"}
    assert secrets["Basic Authentication"] == {"password"}


@pytest.mark.parametrize("auth", list(GOOD))
def test_each_auth_kind_passes_with_good_credentials(
    context: ConnectorContext, server: RestServer, auth: str
) -> None:
    assert verdict(context, {"baseUrl": server.base(auth), **GOOD[auth]}) is None
    assert server.calls("")[-1].headers.get("Authorization", "").startswith(
        {"bearer": "Bearer ", "basic": "Basic "}.get(auth, ""))


@pytest.mark.parametrize("auth", list(WRONG))
def test_each_auth_kind_fails_clearly_with_wrong_credentials(
    context: ConnectorContext, server: RestServer, auth: str
) -> None:
    message = verdict(context, {"baseUrl": server.base(auth), **WRONG[auth]})
    assert message is not None and "authentication was refused" in message
    assert "HTTP 401" in message
    for secret in (*WRONG[auth].values(), API_KEY, TOKEN, PASSWORD):
        assert secret == USERNAME or secret not in message


def test_a_custom_api_key_header_is_sent(context: ConnectorContext, server: RestServer) -> None:
    params = {"baseUrl": server.base("open"), "headerName": "X-Custom-Key", "apiKey": API_KEY}
    assert verdict(context, params) is None
    assert server.calls("")[-1].headers["X-Custom-Key"] == API_KEY


def test_the_test_endpoint_is_used_when_given(context: ConnectorContext,
                                              server: RestServer) -> None:
    assert verdict(context, {"baseUrl": server.base(), "testEndpoint": "pages"}) is None
    assert len(server.calls("pages")) == 1 and server.calls("") == []
    # A 3xx passes: the API answers, even if elsewhere.
    assert verdict(context, {"baseUrl": server.base(), "testEndpoint": "redirect-away"}) is None
    message = verdict(context, {"baseUrl": server.base(), "testEndpoint": "nowhere"})
    assert message is not None and "HTTP 404" in message and "testEndpoint" in message
    message = verdict(context, {"baseUrl": server.base(), "testEndpoint": "forbidden"})
    assert message is not None and "authentication was refused" in message


def test_an_unreachable_server_fails_with_the_reason(context: ConnectorContext) -> None:
    message = verdict(context, {"baseUrl": f"http://127.0.0.1:{closed_port()}/api"})
    assert message is not None and "cannot be reached" in message


def test_a_guarded_host_fails_before_any_request(context: ConnectorContext) -> None:
    with pytest.raises(HostRefusedError) as caught:
        CONNECTOR.test(context, {"baseUrl": "http://169.254.169.254/latest", "token": TOKEN})
    assert "cloud metadata endpoint" in str(caught.value)


def test_the_listing_offers_the_declared_endpoints(context: ConnectorContext) -> None:
    params = {"baseUrl": "http://127.0.0.1:1/api", "endpoints": ["/v1/orders", "customers"]}
    items = [i.to_wire() for i in CONNECTOR.explore(context, params, "root", None)]
    assert items == [
        {"type": "endpoint", "name": "v1/orders", "path": "/v1/orders", "canPreview": True,
         "canFetchSchema": True},
        {"type": "endpoint", "name": "customers", "path": "customers", "canPreview": True,
         "canFetchSchema": True},
    ]
    (base,) = CONNECTOR.explore(context, {"baseUrl": "http://127.0.0.1:1/api/"}, "root", None)
    assert (base.name, base.path, base.can_preview) == ("http://127.0.0.1:1/api", "/", True)
    with pytest.raises(ExploreError):
        CONNECTOR.explore(context, params, "rest", "customers")


# -- through the API --------------------------------------------------------------------------

def test_connections_are_tested_through_the_api(caller: Caller, server: RestServer) -> None:
    good = create_connection(caller, "Bearer Token Authentication",
                             {"baseUrl": server.base("bearer"), "token": TOKEN})
    assert caller.get(f"{FS}/connections/{good}/test").json() == {"result": True}
    shown = caller.get(f"{FS}/connections/{good}").text
    assert TOKEN not in shown
    wrong = create_connection(caller, "Bearer Token Authentication",
                              {"baseUrl": server.base("bearer"), "token": "Wrong-T0ken/Secret"})
    result = caller.get(f"{FS}/connections/{wrong}/test").json()
    assert result["result"] is False and "authentication was refused" in result["message"]
    assert "Wrong-T0ken" not in str(result)


@pytest.mark.parametrize("params, fragment", [
    ({"baseUrl": "http://169.254.169.254/api"}, "cloud metadata endpoint"),
    ({"baseUrl": "http://[fe80::1]/api"}, "link-local"),
    ({"baseUrl": "http://user:pw@127.0.0.1/api"}, "must not carry a user or password"),
    ({"baseUrl": "http://127.0.0.1/api?key=1"}, "must not have a query"),
    ({"baseUrl": "ftp://127.0.0.1/api"}, "baseUrl: does not satisfy pattern"),
    ({"baseUrl": "http://127.0.0.1/api", "endpoints": ["../x"]}, "endpoints/0"),
])
def test_bad_connections_are_coded_400s_and_create_nothing(
    caller: Caller, params: dict[str, Any], fragment: str
) -> None:
    response = caller.post(f"{FS}/connections", json={
        "name": "rest", "connectionSpec": {"id": SPEC.id, "version": "1.0"},
        "auth": {"specName": "No Authentication", "params": params}})
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1000-400"
    assert fragment in response.json()["report"]["detailed-message"]
    assert caller.get(f"{FS}/connections").json()["items"] == []


VALID_PARAMS = {"endpoint": "v1/orders", "recordsPath": "$.data[*]",
                "window": {"startParam": "since", "endParam": "until", "format": "iso8601"},
                "pagination": {"type": "cursor", "cursorParam": "after",
                               "cursorPath": "$.meta.next"},
                "queryParams": {"expand": "lines", "active": True}}


@pytest.mark.parametrize("params, fragment", [
    ({**VALID_PARAMS, "pagination": {"type": "cursor"}},
     "pagination: missing required field(s) cursorPath"),
    ({**VALID_PARAMS, "pagination": {"type": "pageNumber", "sizeParam": "per_page"}},
     "pagination: missing required field(s) pageSize"),
    ({**VALID_PARAMS, "pagination": {"type": "keyset"}},
     "pagination/type: must be one of none, pageNumber, offset, cursor, linkHeader"),
    ({**VALID_PARAMS, "pagination": {"type": "offset", "pageSize": 0}},
     "pagination/pageSize: does not satisfy minimum"),
    ({**VALID_PARAMS, "window": {"endParam": "until"}},
     "window: missing required field(s) startParam"),
    ({**VALID_PARAMS, "window": {"startParam": "since", "format": "rfc2822"}},
     "window/format: must be one of epochSeconds, epochMillis, iso8601"),
    ({**VALID_PARAMS, "endpoint": "https://other.example.com/v1/orders"},
     "endpoint: does not satisfy pattern"),
    ({**VALID_PARAMS, "endpoint": "v1/../../admin"}, "endpoint: does not satisfy pattern"),
    ({**VALID_PARAMS, "recordsPath": "data[*]"}, "recordsPath: does not satisfy pattern"),
    ({"recordsPath": "$"}, "(root): missing required field(s) endpoint"),
    ({**VALID_PARAMS, "query": {"a": 1}}, "(root): unknown field"),
])
def test_bad_source_params_are_coded_400s_and_create_nothing(
    caller: Caller, server: RestServer, params: dict[str, Any], fragment: str
) -> None:
    base = create_connection(caller, "No Authentication", {"baseUrl": server.base()})
    response = caller.post(f"{FS}/sourceConnections", json=source_body(base, params))
    assert response.status_code == 400, response.text
    assert error_code(response) == "FLOW-1000-400"
    assert fragment in response.json()["report"]["detailed-message"]
    assert caller.get(f"{FS}/sourceConnections").json()["items"] == []


@pytest.mark.parametrize("params", [
    VALID_PARAMS,
    {"tableName": "orders"},  # the table-source shape: the table name is the endpoint
    {"endpoint": "/", "pagination": {"type": "linkHeader", "maxPages": 10}},
    {"endpoint": "items", "pagination": {"type": "offset", "sizeParam": "limit",
                                         "pageSize": 500}},
])
def test_good_source_params_are_accepted(
    caller: Caller, server: RestServer, params: dict[str, Any]
) -> None:
    base = create_connection(caller, "No Authentication", {"baseUrl": server.base()})
    response = caller.post(f"{FS}/sourceConnections", json=source_body(base, params))
    assert response.status_code == 201, response.text


def source_body(base: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"name": "orders", "baseConnectionId": base, "data": {"format": "tabular"},
            "params": params, "connectionSpec": {"id": SPEC.id, "version": "1.0"}}
