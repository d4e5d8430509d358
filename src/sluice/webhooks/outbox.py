"""The webhook outbox: run events recorded in the transaction of the run change they report.

A run's start is written by the claim that starts it, its end by the transaction that
finishes it, each together with one delivery row per matching subscription. Either the run
changes and its event is stored, or neither happens: a crash can delay a webhook but never
lose one or announce a change that was rolled back. Events nobody subscribed to are not
stored at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.flow_specs import delay_alert_minutes
from sluice.domain.run_states import IN_PROGRESS
from sluice.store import clock
from sluice.store.db import dialect_insert, write_transaction
from sluice.store.models import (
    Flow,
    Run,
    Sandbox,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from sluice.webhooks.events import FLOW_RUN_DELAYED, run_event_payload

log = logging.getLogger(__name__)

PENDING = "pending"
_EVENTS = cast(Table, WebhookEvent.__table__)
# Runs are checked for delay no sooner than this after they start (the option's minimum).
_SHORTEST_DELAY_MS = 60_000


def subscribers(session: Session, run: Run, event_type: str) -> list[Webhook]:
    """Enabled subscriptions of the run's tenant that want this event for this flow."""
    hooks = session.scalars(
        select(Webhook).where(
            Webhook.org_id == run.org_id,
            Webhook.sandbox_id == run.sandbox_id,
            Webhook.enabled.is_(True),
        )
    )
    return [
        hook
        for hook in hooks
        if event_type in (hook.doc.get("events") or [])
        and (hook.flow_id is None or hook.flow_id == run.flow_id)
    ]


def record_run_event(
    session: Session,
    run_id: str,
    event_type: str,
    *,
    only_if_status: str | None = None,
    extra: dict[str, Any] | None = None,
    now_ms: int | None = None,
) -> str | None:
    """Store the event and its deliveries in the caller's transaction; the event id, or None
    when nobody subscribed, the run is gone (or not in `only_if_status`), or the run already
    has this event (the unique (run, event type) index holds that, not this check)."""
    run = session.scalar(
        select(Run).where(Run.id == run_id).execution_options(populate_existing=True)
    )
    if run is None or (only_if_status is not None and run.status != only_if_status):
        return None
    hooks = subscribers(session, run, event_type)
    if not hooks:
        return None
    now = clock.now_ms() if now_ms is None else now_ms
    event_id = clock.new_id()
    flow = session.get(Flow, run.flow_id)
    sandbox = session.get(Sandbox, run.sandbox_id)
    payload = run_event_payload(
        event_id=event_id,
        event_type=event_type,
        created_at=now,
        run=run,
        flow_name=flow.name if flow is not None else "",
        sandbox_name=sandbox.name if sandbox is not None else "",
        extra=extra,
    )
    statement = (
        dialect_insert(session)(_EVENTS)
        .values(
            id=event_id,
            org_id=run.org_id,
            sandbox_id=run.sandbox_id,
            event_type=event_type,
            flow_id=run.flow_id,
            run_id=run.id,
            created_at=now,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=[_EVENTS.c.run_id, _EVENTS.c.event_type])
        .returning(_EVENTS.c.id)
    )
    if session.execute(statement).first() is None:
        return None
    add_pending_deliveries(session, event_id, hooks, now_ms=now)
    session.flush()
    return event_id


def add_pending_deliveries(
    session: Session, event_id: str, hooks: Iterable[Any], *, now_ms: int
) -> None:
    """One pending delivery of the event to each of `hooks` (webhooks), due at once."""
    session.add_all(
        WebhookDelivery(
            id=clock.new_id(),
            webhook_id=hook.id,
            event_id=event_id,
            status=PENDING,
            attempts=0,
            next_attempt_at=now_ms,
            created_at=now_ms,
            updated_at=now_ms,
            attempt_log=[],
        )
        for hook in hooks
    )


def record_delayed_runs(sessions: sessionmaker[Session], *, now_ms: int | None = None) -> int:
    """Report runs in progress for longer than their flow's `delayAlertMinutes`, once each.

    Called by the leading scheduler on every pass. Each event is written in its own
    transaction that re-checks the run is still in progress, so a run that ended meanwhile
    is not reported late.
    """
    now = clock.now_ms() if now_ms is None else now_ms
    reported = (
        select(WebhookEvent.id)
        .where(WebhookEvent.run_id == Run.id, WebhookEvent.event_type == FLOW_RUN_DELAYED)
        .exists()
    )
    with sessions() as session:
        candidates = session.execute(
            select(Run.id, Run.started_at, Flow.doc)
            .join(Flow, Flow.id == Run.flow_id)
            .where(
                Run.status == IN_PROGRESS,
                Run.started_at <= now - _SHORTEST_DELAY_MS,
                ~reported,
            )
        ).all()
    recorded = 0
    for run_id, started_at, flow_doc in candidates:
        minutes = delay_alert_minutes(flow_doc.get("options"))
        if started_at is None or started_at + minutes * 60_000 > now:
            continue
        with write_transaction(sessions) as session:
            extra = {"delayAlertMinutes": minutes, "runningForMs": now - started_at}
            if record_run_event(
                session,
                run_id,
                FLOW_RUN_DELAYED,
                only_if_status=IN_PROGRESS,
                extra=extra,
                now_ms=now,
            ):
                recorded += 1
    if recorded:
        log.info("Reported %d delayed run(s).", recorded)
    return recorded
