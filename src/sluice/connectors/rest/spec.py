"""The generic REST API connector: JSON endpoints of one base URL, read as tables; its test,
its listing and its reads (its spec: sluice.connectors.rest.connection_spec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import ConnectionTestFailed, ExploreError, SourceReadError
from sluice.connectors.exploring import MAX_LISTED_OBJECTS, ExploreItem, ObjectType
from sluice.connectors.host_guard import guard_url
from sluice.connectors.rest.client import NO_RETRIES, RestClient, display
from sluice.connectors.rest.config import RestAuth, RestConfigError, endpoint_url
from sluice.connectors.rest.connection_spec import SPEC
from sluice.connectors.rest.reader import check_delta_column, open_source


def _auth(params: Mapping[str, Any]) -> RestAuth:
    try:
        return RestAuth.from_params(params)
    except RestConfigError as error:
        raise ConnectionTestFailed(str(error)) from None


def validate_auth(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """A usable base URL on a host the guard allows (checked when the connection is saved)."""
    guard_url(context, _auth(params).base_url)


def check_connection(context: ConnectorContext, params: Mapping[str, Any]) -> None:
    """GET the base URL (or `testEndpoint`) with the credentials: any 2xx or 3xx passes."""
    auth = _auth(params)
    guard_url(context, auth.base_url)
    try:
        url = endpoint_url(auth.base_url, str(params.get("testEndpoint") or ""))
    except RestConfigError as error:
        raise ConnectionTestFailed(str(error)) from None
    client = RestClient(context, auth, policy=NO_RETRIES)
    try:
        status = client.status_of(url)
    except SourceReadError as error:
        raise ConnectionTestFailed(error.message) from None
    finally:
        client.close()
    if status in (401, 403):
        raise ConnectionTestFailed(
            f"GET {display(url)}: the server answered HTTP {status}: authentication was refused."
            " Check the credentials."
        )
    if not 200 <= status < 400:
        hint = " Set testEndpoint to a path that answers." if status == 404 else ""
        raise ConnectionTestFailed(f"GET {display(url)}: the server answered HTTP {status}.{hint}")


def list_objects(
    context: ConnectorContext,
    params: Mapping[str, Any],
    object_type: ObjectType,
    obj: str | None,
) -> list[ExploreItem]:
    """The connection's declared `endpoints`, or the base URL itself; nothing is below them."""
    if object_type != "root" and obj:
        raise ExploreError(
            f"The endpoint {obj!r} holds no objects to list; preview it with "
            "objectType=rest and preview=true."
        )
    auth = _auth(params)
    declared = [str(e) for e in params.get("endpoints") or []]
    if not declared:
        return [ExploreItem("endpoint", auth.base_url, "/", True, True)]
    return [
        ExploreItem("endpoint", e.strip("/") or "/", e, True, True)
        for e in declared[:MAX_LISTED_OBJECTS]
    ]


CONNECTOR = FunctionConnector(
    SPEC,
    test_connection=check_connection,
    validate_params=validate_auth,
    lister=list_objects,
    opener=open_source,
    delta_checker=check_delta_column,
)
