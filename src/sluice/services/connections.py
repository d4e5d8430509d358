"""Base connections: credentials validated against the spec, sealed at rest, masked on read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sluice.connectors.contract import AuthSpec, ConnectionSpec, ConnectorContext
from sluice.connectors.errors import ConnectionTestFailed
from sluice.domain.errors import ConflictError, bad_request
from sluice.domain.patching import apply_operations, normalize_operations
from sluice.domain.secrets import masked, merge_patched_secrets, split_secrets
from sluice.domain.tenancy import Tenant
from sluice.schemas.connections import ConnectionCreate
from sluice.schemas.parsing import parse_model
from sluice.schemas.system_fields import system_view
from sluice.security.encryption import SecretBox
from sluice.services.validation import validate_against
from sluice.store.flow_endpoints import full_auth_params, require_connector, require_spec
from sluice.store.list_query_sql import ColumnField, ResourceFields, system_fields
from sluice.store.models import Connection, SourceConnection, TargetConnection
from sluice.store.resources import ResourceRepository

FIELDS = ResourceFields(
    model=Connection,
    columns={
        **system_fields(Connection),
        "connectionSpec.id": ColumnField(Connection.connection_spec_id),
        "state": ColumnField(Connection.state, case_insensitive=True),
    },
    document_fields=frozenset({"description", "auth", "connectionSpec"}),
)
connections = ResourceRepository(Connection, "connections", FIELDS)
PATCHABLE = frozenset({"name", "description", "auth"})


def _auth_spec_for(spec: ConnectionSpec, spec_name: str) -> AuthSpec:
    auth_spec = spec.auth_spec(spec_name)
    if auth_spec is None:
        accepted = ", ".join(f"'{a.name}'" for a in spec.auth_specs) or "none"
        raise bad_request(
            1000,
            f"auth.specName '{spec_name}' is not offered by connection spec "
            f"'{spec.name}'; accepted: {accepted}.",
        )
    return auth_spec


def _validated_auth(
    spec: ConnectionSpec, auth: dict[str, Any] | None, context: ConnectorContext
) -> tuple[AuthSpec | None, dict[str, Any]]:
    if not spec.auth_specs:
        if auth:
            raise bad_request(1000, f"Connection spec '{spec.name}' takes no auth.")
        return None, {}
    if not auth:
        raise bad_request(1000, "auth is required: give auth.specName and auth.params.")
    auth_spec = _auth_spec_for(spec, str(auth.get("specName", "")))
    params = auth.get("params")
    validate_against(auth_spec.schema, params, "auth.params")
    assert isinstance(params, dict)
    try:
        require_connector(spec.id).validate_auth(context, params)
    except ConnectionTestFailed as failure:
        raise bad_request(1000, f"Invalid auth.params: {failure}") from None
    return auth_spec, params


def _store_auth(
    row: Connection, box: SecretBox, auth_spec: AuthSpec | None, params: dict[str, Any]
) -> None:
    public, secret = split_secrets(params, auth_spec.secret_fields if auth_spec else ())
    row.doc = {
        **row.doc,
        # The names (never the values) of the sealed params, so reads can mask without
        # decrypting.
        "auth": {"specName": auth_spec.name, "params": public, "sealedParams": sorted(secret)}
        if auth_spec
        else None,
    }
    row.sealed_secrets = box.seal(secret) if secret else None


def create_connection(
    session: Session,
    tenant: Tenant,
    box: SecretBox,
    context: ConnectorContext,
    body: ConnectionCreate,
) -> Connection:
    spec = require_spec(body.connection_spec.id)
    auth = body.auth.model_dump(by_alias=True) if body.auth else None
    auth_spec, params = _validated_auth(spec, auth, context)
    doc = {
        "description": body.description or "",
        "connectionSpec": {"id": spec.id, "version": body.connection_spec.version or spec.version},
    }
    row = connections.add(
        session, tenant, body.name, doc, connection_spec_id=spec.id, state="enabled"
    )
    _store_auth(row, box, auth_spec, params)
    session.flush()
    return row


def render_connection(row: Connection, tenant: Tenant) -> dict[str, Any]:
    auth = row.doc.get("auth")
    view = {
        **system_view(row, tenant),
        "description": row.doc.get("description", ""),
        "connectionSpec": row.doc["connectionSpec"],
        "state": row.state,
        "version": row.etag,
        "_links": {
            "self": {"href": f"/connections/{row.id}"},
            "connectionSpec": {"href": f"/connectionSpecs/{row.connection_spec_id}"},
        },
    }
    if auth:
        view["auth"] = {
            "specName": auth["specName"],
            "params": masked(auth.get("params", {}), dict.fromkeys(auth.get("sealedParams", []))),
        }
    return view


def patch_connection(
    session: Session,
    tenant: Tenant,
    box: SecretBox,
    context: ConnectorContext,
    connection_id: str,
    operations: object,
    if_match: str | None,
) -> Connection:
    row = connections.get_for_write(session, tenant, connection_id, if_match)
    patch = normalize_operations(operations, PATCHABLE, {"connectionSpec": 1414})
    if row.state not in ("enabled", "disabled", "initializing"):
        raise bad_request(1416, f"Connection {row.id} is '{row.state}'; update it once enabled.")
    previous_secret = box.open(row.sealed_secrets)
    current = render_connection(row, tenant)
    patched = apply_operations(current, patch)
    spec = require_spec(row.connection_spec_id)
    auth = patched.get("auth")
    if auth and isinstance(auth.get("params"), dict):
        auth_spec = spec.auth_spec(str(auth.get("specName", "")))
        names = auth_spec.secret_fields if auth_spec else frozenset()
        auth = {**auth, "params": merge_patched_secrets(auth["params"], previous_secret, names)}
    auth_spec, params = _validated_auth(spec, auth, context)
    body = parse_model(
        ConnectionCreate,
        {
            "name": patched.get("name"),
            "description": patched.get("description"),
            "connectionSpec": {"id": spec.id},
        },
        code=1455,
    )
    row.name = body.name
    row.doc = {**row.doc, "description": body.description or ""}
    _store_auth(row, box, auth_spec, params)
    connections.touch(row, tenant)
    session.flush()
    return row


def delete_connection(session: Session, tenant: Tenant, connection_id: str) -> None:
    row = connections.get(session, tenant, connection_id, for_update=True)
    users = list(
        session.scalars(
            select(SourceConnection.id).where(SourceConnection.base_connection_id == row.id)
        )
    ) + list(
        session.scalars(
            select(TargetConnection.id).where(TargetConnection.base_connection_id == row.id)
        )
    )
    if users:
        raise ConflictError(
            f"Connection {row.id} cannot be deleted: source or target connections "
            f"{', '.join(users)} use it (and the flows built on them). Delete those first.",
            code=1418,
        )
    connections.delete(session, row)


def test_connection(row: Connection, box: SecretBox, context: ConnectorContext) -> dict[str, Any]:
    connector = require_connector(row.connection_spec_id)
    try:
        connector.test(context, full_auth_params(row, box))
    except ConnectionTestFailed as failure:
        # The connector's code (`CONNECTOR-1001-400`) says what kind of refusal it was.
        return {"result": False, "message": str(failure), "code": failure.code}
    return {"result": True}
