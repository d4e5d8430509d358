"""Alerts about flows rather than runs: a flow past its `maxAgeWithoutSuccess` expectation
raises `flow_expectation_failed` once per dry spell (again only after a new success).

Called by the leading scheduler on every pass; only one scheduler leads, so the check for an
earlier alert and the insert do not race.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.expectations import MAX_AGE_WITHOUT_SUCCESS
from sluice.store import clock
from sluice.store.db import write_transaction
from sluice.store.flow_health import OverdueFlow, overdue_flows
from sluice.store.models import Sandbox, Webhook, WebhookEvent
from sluice.webhooks.events import FLOW_EXPECTATION_FAILED, flow_event_payload
from sluice.webhooks.outbox import add_pending_deliveries

log = logging.getLogger(__name__)


def record_overdue_flows(sessions: sessionmaker[Session], *, now_ms: int | None = None) -> int:
    """Record the event for every overdue flow not yet reported since its last success."""
    now = clock.now_ms() if now_ms is None else now_ms
    with sessions() as session:
        overdue = overdue_flows(session, now_ms=now)
    recorded = 0
    for flow in overdue:
        with write_transaction(sessions) as session:
            if _already_reported(session, flow):
                continue
            if _record(session, flow, now):
                recorded += 1
    if recorded:
        log.info("Reported %d flow(s) past their maxAgeWithoutSuccess.", recorded)
    return recorded


def _already_reported(session: Session, flow: OverdueFlow) -> bool:
    """Whether the latest alert of the flow is about this dry spell (the same last success:
    a spell ends only with a new success)."""
    latest = session.scalar(
        select(WebhookEvent.payload)
        .where(
            WebhookEvent.flow_id == flow.flow_id,
            WebhookEvent.event_type == FLOW_EXPECTATION_FAILED,
            WebhookEvent.run_id.is_(None),
        )
        .order_by(WebhookEvent.created_at.desc())
        .limit(1)
    )
    return latest is not None and latest["data"].get("lastSuccessAtUTC") == flow.last_success_at


def _record(session: Session, flow: OverdueFlow, now: int) -> bool:
    hooks = [
        hook
        for hook in session.scalars(
            select(Webhook).where(
                Webhook.org_id == flow.org_id,
                Webhook.sandbox_id == flow.sandbox_id,
                Webhook.enabled.is_(True),
            )
        )
        if FLOW_EXPECTATION_FAILED in (hook.doc.get("events") or [])
        and (hook.flow_id is None or hook.flow_id == flow.flow_id)
    ]
    if not hooks:
        return False
    sandbox = session.get(Sandbox, flow.sandbox_id)
    event_id = clock.new_id()
    payload = flow_event_payload(
        event_id=event_id,
        event_type=FLOW_EXPECTATION_FAILED,
        created_at=now,
        org_id=flow.org_id,
        sandbox_id=flow.sandbox_id,
        sandbox_name=sandbox.name if sandbox is not None else "",
        flow_id=flow.flow_id,
        flow_name=flow.name,
        data={
            "expectation": MAX_AGE_WITHOUT_SUCCESS,
            "maxAgeWithoutSuccessSeconds": flow.max_age_seconds,
            "lastSuccessAtUTC": flow.last_success_at,
            "overdueSinceUTC": flow.overdue_since,
        },
    )
    session.add(
        WebhookEvent(
            id=event_id,
            org_id=flow.org_id,
            sandbox_id=flow.sandbox_id,
            event_type=FLOW_EXPECTATION_FAILED,
            flow_id=flow.flow_id,
            run_id=None,
            created_at=now,
            payload=payload,
        )
    )
    session.flush()
    add_pending_deliveries(session, event_id, hooks, now_ms=now)
    return True
