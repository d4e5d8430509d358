"""Webhook subscriptions (a tenant resource like connections) and their delivery log."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.host_guard import HostRefusedError, guard_url
from sluice.domain.errors import bad_request
from sluice.domain.patching import apply_operations, normalize_operations
from sluice.domain.tenancy import Tenant
from sluice.schemas.parsing import parse_model
from sluice.schemas.system_fields import system_view
from sluice.schemas.webhooks import SecretValue, WebhookCreate, WebhookFields
from sluice.security.encryption import SecretBox
from sluice.store.list_query_sql import ColumnField, ResourceFields, system_fields
from sluice.store.models import Flow, Webhook, WebhookDelivery, WebhookEvent
from sluice.store.resources import ResourceRepository, find_row
from sluice.webhooks.deliveries import DELIVERY_STATUSES
from sluice.webhooks.events import EVENT_TYPES

WEBHOOKS_PATH = "/data/foundation/flowservice/webhooks"
FIELDS = ResourceFields(
    model=Webhook,
    columns={
        **system_fields(Webhook),
        "url": ColumnField(Webhook.url),
        "flowId": ColumnField(Webhook.flow_id),
        "enabled": ColumnField(Webhook.enabled, "boolean"),
    },
    document_fields=frozenset({"description", "events"}),
)
webhooks = ResourceRepository(Webhook, "webhooks", FIELDS)
PATCHABLE = frozenset({"name", "description", "url", "events", "flowId", "enabled", "secret"})


def _checked_url(url: str, context: ConnectorContext) -> str:
    """Absolute http(s) URLs only, on a host the connector guard allows (no cloud metadata or
    link-local address); credentials belong in the signature, not in a readable URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise bad_request(1000, f"url '{url}' is not an absolute http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise bad_request(
            1000,
            "url must not carry a user or password (it is shown on every read); receivers "
            "authenticate deliveries by their signature.",
        )
    try:
        guard_url(context, url)
    except HostRefusedError as refused:
        raise bad_request(1000, f"url is refused: {refused}") from None
    return url


def _checked_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise bad_request(
            1000,
            f"Unknown event(s) {', '.join(unknown)}; subscribe to any of {', '.join(EVENT_TYPES)}.",
        )
    return list(dict.fromkeys(events))


def _checked_flow(session: Session, tenant: Tenant, flow_id: str | None) -> str | None:
    if flow_id is not None and find_row(session, Flow, tenant, flow_id) is None:
        raise bad_request(1439, f"Flow {flow_id} is not found; flowId must name one of yours.")
    return flow_id


def _validated(
    session: Session, tenant: Tenant, body: WebhookFields, context: ConnectorContext
) -> dict[str, Any]:
    """Column values of a subscription (with its `doc`), once every field is checked."""
    return {
        "name": body.name,
        "url": _checked_url(body.url, context),
        "flow_id": _checked_flow(session, tenant, body.flow_id),
        "enabled": body.enabled,
        "doc": {"description": body.description or "", "events": _checked_events(body.events)},
    }


def _seal(box: SecretBox, secret: str) -> bytes:
    return box.seal({"secret": secret})


def create_webhook(
    session: Session, tenant: Tenant, box: SecretBox, context: ConnectorContext, payload: Any
) -> Webhook:
    body = parse_model(WebhookCreate, payload)
    values = _validated(session, tenant, body, context)
    return webhooks.add(
        session,
        tenant,
        values.pop("name"),
        values.pop("doc"),
        sealed_secret=_seal(box, body.secret),
        **values,
    )


def render_webhook(row: Webhook, tenant: Tenant) -> dict[str, Any]:
    """Never the secret, not even masked."""
    return {
        **system_view(row, tenant),
        "description": row.doc.get("description", ""),
        "url": row.url,
        "events": list(row.doc.get("events") or []),
        "flowId": row.flow_id,
        "enabled": row.enabled,
        "deliveries": f"{WEBHOOKS_PATH}/{row.id}/deliveries",
    }


def patch_webhook(
    session: Session,
    tenant: Tenant,
    box: SecretBox,
    context: ConnectorContext,
    webhook_id: str,
    operations: object,
    if_match: str | None,
) -> Webhook:
    row = webhooks.get_for_write(session, tenant, webhook_id, if_match)
    patch = normalize_operations(operations, PATCHABLE)
    current = {**render_webhook(row, tenant), "secret": None}
    patched = apply_operations(current, patch)
    fields = {k: patched.get(k) for k in ("name", "description", "url", "events", "flowId")}
    body = parse_model(WebhookFields, {**fields, "enabled": patched.get("enabled")}, code=1455)
    values = _validated(session, tenant, body, context)
    row.name = values["name"]
    row.url = values["url"]
    row.flow_id = values["flow_id"]
    row.enabled = values["enabled"]
    row.doc = {**row.doc, **values["doc"]}
    if patched.get("secret") is not None:
        secret = parse_model(SecretValue, {"secret": patched["secret"]}, code=1455).secret
        row.sealed_secret = _seal(box, secret)
    webhooks.touch(row, tenant)
    session.flush()
    return row


def delete_webhook(session: Session, tenant: Tenant, webhook_id: str) -> None:
    """Its deliveries go with it; pending ones are never sent."""
    webhooks.delete(session, webhooks.get(session, tenant, webhook_id, for_update=True))


# -- delivery log ---------------------------------------------------------------------------


def _encode_position(created_at: int, delivery_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at}:{delivery_id}".encode()).decode()


def _decode_position(token: str) -> tuple[int, str]:
    try:
        created_at, delivery_id = base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)
        return int(created_at), delivery_id
    except (ValueError, UnicodeDecodeError):
        raise bad_request(1452, "Invalid continuationToken; start again without it.") from None


def list_deliveries(
    session: Session,
    tenant: Tenant,
    webhook_id: str,
    *,
    limit: int,
    status: str | None = None,
    continuation_token: str | None = None,
) -> dict[str, Any]:
    """The subscription's deliveries, newest first, with `_links.next` while more remain."""
    hook = webhooks.get(session, tenant, webhook_id)
    if status is not None and status not in DELIVERY_STATUSES:
        raise bad_request(
            1452, f"Invalid status '{status}'; use one of {', '.join(DELIVERY_STATUSES)}."
        )
    statement = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    if continuation_token:
        created_at, delivery_id = _decode_position(continuation_token)
        statement = statement.where(
            or_(
                WebhookDelivery.created_at < created_at,
                (WebhookDelivery.created_at == created_at) & (WebhookDelivery.id < delivery_id),
            )
        )
    rows = session.execute(statement).all()
    links: dict[str, Any] = {}
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1][0]
        query = f"limit={limit}&continuationToken={_encode_position(last.created_at, last.id)}"
        if status is not None:
            query += f"&status={status}"
        # Relative to the flow service, like every list's next link.
        links["next"] = {"href": f"/webhooks/{hook.id}/deliveries?{query}"}
    return {"items": [render_delivery(d, e) for d, e in rows], "_links": links}


def render_delivery(delivery: WebhookDelivery, event: WebhookEvent) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhookId": delivery.webhook_id,
        "eventId": event.id,
        "eventType": event.event_type,
        "flowId": event.flow_id,
        "runId": event.run_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "createdAt": delivery.created_at,
        "updatedAt": delivery.updated_at,
        "deliveredAt": delivery.delivered_at,
        "nextAttemptAt": delivery.next_attempt_at if delivery.status == "pending" else None,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "attemptLog": list(delivery.attempt_log or []),
        "payload": event.payload,
    }
