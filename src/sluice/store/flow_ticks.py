"""A flow's stored schedule and `flows.next_tick_at`, kept right by every writer of a flow.

The tick arithmetic is the domain's (`domain/schedule.py`); this module reads what it needs
from the rows: the stored `scheduleParams` and the greatest tick that has a run.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sluice.domain.errors import SluiceError
from sluice.domain.schedule import NO_MORE_TICKS, Schedule, next_tick_at, parse_schedule
from sluice.store.models import Flow, Run

log = logging.getLogger("sluice.engine.scheduler")


def flow_schedule(flow_id: str, raw: object) -> Schedule | None:
    """The flow's stored schedule, or None when it has none or it cannot be read (logged)."""
    if not raw:
        return None
    try:
        if isinstance(raw, dict):
            try:
                # Types in the key: True == 1, but only one of them is a valid backfill.
                return _parsed_schedule(tuple((k, type(v), v) for k, v in raw.items()))
            except TypeError:  # an unhashable value: not a valid schedule anyway
                pass
        return parse_schedule(raw, now=0)
    except SluiceError as error:
        log.warning("Flow %s has an unreadable schedule, skipped: %s", flow_id, error)
        return None


@functools.lru_cache(maxsize=4096)
def _parsed_schedule(items: tuple[tuple[str, type, Any], ...]) -> Schedule:
    # now=0: a stored start time is in the past by design; only its shape is checked.
    # Memoized: flows made from one template share their schedule.
    return parse_schedule({key: value for key, _type, value in items}, now=0)


def last_created_tick(session: Session, flow_id: str) -> int | None:
    """The greatest tick with a run (the unique index answers it without a scan)."""
    return session.scalar(select(func.max(Run.tick)).where(Run.flow_id == flow_id))


def reschedule(session: Session, flow: Flow) -> None:
    """Set `flow.next_tick_at` from its schedule and its runs: when a flow is enabled or its
    schedule changes. Call it with the flow's row locked (read FOR UPDATE), so that no
    scheduler pass creates a tick in between (a pass skips locked flows)."""
    schedule = flow_schedule(flow.id, flow.doc.get("scheduleParams"))
    flow.next_tick_at = (
        NO_MORE_TICKS
        if schedule is None
        else next_tick_at(schedule, last_created=last_created_tick(session, flow.id))
    )


def has_enabled_flow(session: Session) -> bool:
    """Whether any tenant has an enabled flow: something this store's workers will run (one
    probe of `ix_flows_due`)."""
    return session.scalar(select(Flow.id).where(Flow.state == "enabled").limit(1)) is not None
