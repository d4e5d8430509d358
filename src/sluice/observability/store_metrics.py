"""Metrics read from the metadata database when Prometheus scrapes.

The database is the single source of truth for runs (DESIGN section 1), so whichever process
answers the scrape reports the same numbers, however many workers and API processes there
are, and a restart resets nothing. Runs are summarised by one grouped query; queue, workers,
flows and webhook deliveries add one small query each.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.run_states import SCHEDULED, SUCCESS, TERMINAL
from sluice.store import clock
from sluice.store.models import Flow, Run, WebhookDelivery, Worker

log = logging.getLogger(__name__)

# Run duration buckets, in seconds: from quick windows to the day-long backfill.
DURATION_BUCKETS: tuple[float, ...] = (
    1,
    5,
    15,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    7200,
    14400,
    28800,
    86400,
)


def _runs_summary(session: Session) -> list[Any]:
    """Per (flow, status): count, ingested records and bytes, and duration buckets."""
    duration_ms = Run.completed_at - Run.started_at
    finished = Run.status.in_(TERMINAL) & Run.started_at.is_not(None)
    finished = finished & Run.completed_at.is_not(None)
    succeeded = Run.status == SUCCESS
    buckets = [
        func.sum(case((finished & (duration_ms <= int(le * 1000)), 1), else_=0)).label(f"le{i}")
        for i, le in enumerate(DURATION_BUCKETS)
    ]
    statement = select(
        Run.flow_id,
        Run.status,
        func.count().label("runs"),
        func.sum(case((succeeded, Run.output_records), else_=0)).label("records"),
        func.sum(case((succeeded, Run.output_bytes), else_=0)).label("bytes"),
        func.sum(case((finished, 1), else_=0)).label("finished"),
        func.sum(case((finished, duration_ms), else_=0)).label("duration_ms"),
        *buckets,
    ).group_by(Run.flow_id, Run.status)
    return list(session.execute(statement))


class StoreCollector(Collector):
    """A Prometheus collector over the metadata database (one session per scrape)."""

    def __init__(self, sessions: sessionmaker[Session], *, per_flow: bool = True) -> None:
        self.sessions = sessions
        # Per-flow series name tenants (flow ids and names, orgs, sandboxes): only for
        # scrapes that presented the metrics token.
        self.per_flow = per_flow

    def describe(self) -> Iterable[Any]:
        # Nothing at registration: describing would query the database before it is needed.
        return []

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "sluice_metadata_database_up",
            "1 when the last scrape could read the metadata database, else 0.",
        )
        try:
            with self.sessions() as session:
                families = list(self._families(session, clock.now_ms()))
        except Exception:
            log.exception("Metrics could not read the metadata database.")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, session: Session, now_ms: int) -> Iterator[Any]:
        yield from _run_families(_runs_summary(session), self.per_flow)
        if self.per_flow:
            yield from _flow_families(session)
        yield from _queue_families(session, now_ms)
        yield from _worker_families(session)
        yield from _webhook_families(session)


def _run_families(rows: list[Any], per_flow: bool) -> Iterator[Any]:
    flow = ["flow_id"] if per_flow else []
    runs = GaugeMetricFamily("sluice_runs", "Runs by flow and status.", labels=[*flow, "status"])
    records = CounterMetricFamily(
        "sluice_ingested_records", "Records committed to datasets by successful runs.", labels=flow
    )
    written = CounterMetricFamily(
        "sluice_ingested_bytes",
        "Bytes committed to datasets by successful runs.",
        labels=flow,
        unit="bytes",
    )
    durations = HistogramMetricFamily(
        "sluice_run_duration_seconds",
        "Duration of finished runs, from their first claim to their end.",
        labels=[*flow, "status"],
    )
    by_status: dict[tuple[str, ...], list[int]] = {}
    totals: dict[tuple[str, ...], tuple[int, int]] = {}
    for row in rows:
        key = (row.flow_id,) if per_flow else ()
        count, size = totals.get(key, (0, 0))
        totals[key] = (count + int(row.records or 0), size + int(row.bytes or 0))
        sums = by_status.setdefault((*key, row.status), [0] * (len(DURATION_BUCKETS) + 3))
        counted = [int(row.runs), int(row.finished or 0), int(row.duration_ms or 0)]
        counted += [int(getattr(row, f"le{i}") or 0) for i in range(len(DURATION_BUCKETS))]
        by_status[(*key, row.status)] = [a + b for a, b in zip(sums, counted, strict=True)]
    for labels, (count, finished, duration_ms, *buckets) in sorted(by_status.items()):
        runs.add_metric(list(labels), count)
        if finished:
            cumulative = [(_le(le), n) for le, n in zip(DURATION_BUCKETS, buckets, strict=True)]
            cumulative.append(("+Inf", finished))
            durations.add_metric(list(labels), cumulative, sum_value=duration_ms / 1000)
    for labels, (count, size) in sorted(totals.items()):
        records.add_metric(list(labels), count)
        written.add_metric(list(labels), size)
    yield from (runs, records, written, durations)


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{int(bound)}.0"


def _flow_families(session: Session) -> Iterator[Any]:
    info = GaugeMetricFamily(
        "sluice_flow_info",
        "One series per flow, to join flow ids with names and states.",
        labels=["flow_id", "flow_name", "state", "org_id", "sandbox_id"],
    )
    for flow_id, name, state, org_id, sandbox_id in session.execute(
        select(Flow.id, Flow.name, Flow.state, Flow.org_id, Flow.sandbox_id)
    ):
        info.add_metric([flow_id, name, state, org_id, sandbox_id], 1)
    yield info


def _queue_families(session: Session, now_ms: int) -> Iterator[Any]:
    depth, oldest = session.execute(
        select(func.count(), func.min(Run.start_at)).where(
            Run.status == SCHEDULED,
            Run.start_at <= now_ms // 1000,
            Run.cancel_requested.is_(False),
        )
    ).one()
    yield GaugeMetricFamily(
        "sluice_queue_depth", "Scheduled runs whose start time has come.", value=int(depth)
    )
    age = max(now_ms / 1000 - oldest, 0) if oldest is not None else 0
    yield GaugeMetricFamily(
        "sluice_queue_oldest_due_age_seconds",
        "How long the oldest due scheduled run has waited for a worker (0 when none).",
        value=age,
    )


def _worker_families(session: Session) -> Iterator[Any]:
    heartbeat = GaugeMetricFamily(
        "sluice_worker_last_heartbeat_timestamp_seconds",
        "When each registered worker last reported (unix time).",
        labels=["worker_id", "hostname"],
    )
    busy = GaugeMetricFamily(
        "sluice_worker_busy", "1 while the worker executes a run.", labels=["worker_id"]
    )
    seen = GaugeMetricFamily(
        "sluice_workers_seen",
        "Registered workers (run slots) by executor and by queue they serve; a Celery worker "
        "serving two queues counts in both, a local worker has the queue ''.",
        labels=["executor", "queue"],
    )
    workers = list(
        session.execute(
            select(
                Worker.id,
                Worker.hostname,
                Worker.heartbeat_at,
                Worker.current_run_id,
                Worker.executor,
                Worker.queues,
            )
        )
    )
    by_queue: Counter[tuple[str, str]] = Counter()
    for worker_id, hostname, heartbeat_at, current_run_id, executor, queues in workers:
        heartbeat.add_metric([worker_id, hostname], heartbeat_at / 1000)
        busy.add_metric([worker_id], 1 if current_run_id else 0)
        for queue in (queues or "").split(",") if queues else [""]:
            by_queue[(executor, queue)] += 1
    for labels, count in sorted(by_queue.items()):
        seen.add_metric(list(labels), count)
    yield GaugeMetricFamily("sluice_workers", "Registered workers.", value=len(workers))
    yield seen
    yield GaugeMetricFamily(
        "sluice_runs_in_hand",
        "Runs the registered workers are executing now.",
        value=sum(1 for worker in workers if worker.current_run_id),
    )
    yield heartbeat
    yield busy


def _webhook_families(session: Session) -> Iterator[Any]:
    deliveries = GaugeMetricFamily(
        "sluice_webhook_deliveries",
        "Webhook deliveries kept in the delivery log, by status.",
        labels=["status"],
    )
    counts = dict(
        session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        ).all()
    )
    for status in ("pending", "delivered", "failed"):
        deliveries.add_metric([status], int(counts.get(status, 0)))
    yield deliveries
