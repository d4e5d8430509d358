"""SQLAlchemy models of the metadata database (one schema for SQLite and PostgreSQL).

Every flow-service resource shares the system columns of `ResourceColumns`; the fields that
only the wire format cares about live in the `doc` JSON column. Columns that the database
must reason about (references between resources, state) are real columns, so that foreign
keys hold the invariants ("a connection used by a flow cannot be deleted").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from sluice.store.clock import new_etag
from sluice.store.retrigger_index import LIVE_RETRIGGER

# Stable constraint names so that Alembic migrations are identical on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Sandbox(Base):
    __tablename__ = "sandboxes"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32), default="active")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ApiClient(Base):
    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    secret_hash: Mapped[str] = mapped_column(String(256))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class DashboardSession(Base):
    """A dashboard login. Checked on every page, so revoking it (logout, a disabled client,
    a new secret) takes effect at once on every API process."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ResourceColumns:
    """System fields every flow-service resource carries (reference section 1.2)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(256))
    updated_by: Mapped[str] = mapped_column(String(256))
    created_client: Mapped[str] = mapped_column(String(256))
    updated_client: Mapped[str] = mapped_column(String(256))
    etag: Mapped[str] = mapped_column(String(64))
    doc: Mapped[dict[str, Any]] = mapped_column(JsonDocument)

    @declared_attr
    def org_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))

    @declared_attr
    def sandbox_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - SQLAlchemy passes the class
        # Every UPDATE carries `WHERE etag = <etag read>`: of two writers that read the same
        # version, the second gets StaleDataError (answered 412) instead of overwriting.
        return {
            "version_id_col": cls.__table__.c.etag,  # type: ignore[attr-defined]
            "version_id_generator": lambda _current: new_etag(),
        }

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805 - SQLAlchemy passes the class
        # Serves every tenant-scoped list: filter by tenant, keyset-page by (createdAt, id).
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (Index(f"ix_{name}_tenant_created", "org_id", "sandbox_id", "created_at", "id"),)


class Dataset(ResourceColumns, Base):
    __tablename__ = "datasets"


class Connection(ResourceColumns, Base):
    __tablename__ = "connections"

    connection_spec_id: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(32), default="enabled")
    # Fernet token of the secret auth params; never leaves the service unmasked.
    sealed_secrets: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class SourceConnection(ResourceColumns, Base):
    __tablename__ = "source_connections"

    connection_spec_id: Mapped[str] = mapped_column(String(36))
    base_connection_id: Mapped[str | None] = mapped_column(
        ForeignKey("connections.id", ondelete="RESTRICT"), nullable=True, index=True
    )


class TargetConnection(ResourceColumns, Base):
    __tablename__ = "target_connections"

    connection_spec_id: Mapped[str] = mapped_column(String(36))
    base_connection_id: Mapped[str | None] = mapped_column(
        ForeignKey("connections.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    dataset_id: Mapped[str | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="RESTRICT"), nullable=True, index=True
    )


class Flow(ResourceColumns, Base):
    __tablename__ = "flows"

    flow_spec_id: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(32), default="enabled")
    # Written by the engine when a run ends, without touching the flow's etag: a run is not
    # a change of the flow, and a client's PATCH must not collide with it.
    last_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_run_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_run_started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_run_completed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Epoch seconds of the schedule's next tick without a run, so a scheduler pass reads only
    # the due flows (engine/scheduler.py keeps it). 0: not known yet, worked out on the next
    # pass. The scheduler moves it on without a new etag: that is not a change of the flow.
    next_tick_at: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    __table_args__ = (
        Index("ix_flows_tenant_created", "org_id", "sandbox_id", "created_at", "id"),
        Index("ix_flows_due", "state", "next_tick_at"),
    )


class FlowSourceConnection(Base):
    """Which source connections a flow reads; the foreign key refuses deleting one in use."""

    __tablename__ = "flow_source_connections"

    flow_id: Mapped[str] = mapped_column(
        ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    source_connection_id: Mapped[str] = mapped_column(
        ForeignKey("source_connections.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class FlowTargetConnection(Base):
    """Which target connections a flow writes; the foreign key refuses deleting one in use."""

    __tablename__ = "flow_target_connections"

    flow_id: Mapped[str] = mapped_column(
        ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    target_connection_id: Mapped[str] = mapped_column(
        ForeignKey("target_connections.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class MappingSet(ResourceColumns, Base):
    """A mapping set; `doc` mirrors its latest version, older versions stay readable."""

    __tablename__ = "mapping_sets"

    # The latest version; every PUT adds a `MappingSetVersion` and moves this on.
    version: Mapped[int] = mapped_column(Integer, default=0)


class MappingSetVersion(Base):
    """One immutable version of a mapping set: flows pin (id, version) and runs load it."""

    __tablename__ = "mapping_set_versions"

    mapping_set_id: Mapped[str] = mapped_column(
        ForeignKey("mapping_sets.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(256))
    doc: Mapped[dict[str, Any]] = mapped_column(JsonDocument)


class FlowMappingSet(Base):
    """Which mapping set a flow's Mapping transformation names; refuses deleting one in use."""

    __tablename__ = "flow_mapping_sets"

    flow_id: Mapped[str] = mapped_column(
        ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    mapping_set_id: Mapped[str] = mapped_column(
        ForeignKey("mapping_sets.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class Run(ResourceColumns, Base):
    """One execution of a flow over a window. The row is also the work queue entry: workers
    claim it with one guarded UPDATE (DESIGN §7), and every later write presents the claim
    token, so a worker whose lease expired can no longer change it."""

    __tablename__ = "runs"

    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))
    # When the run may begin (epoch seconds); due runs are found by (status, start_at).
    start_at: Mapped[int] = mapped_column(BigInteger)
    window_start: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    window_end: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    delta_column: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # Schedule tick index; unique per flow so no tick ever gets two runs.
    tick: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    retry_of: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Re-triggers: the first run of the chain they re-run (the same window and files); None
    # on that first run and on every run that is not a re-trigger.
    retry_root: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Epoch ms; past it another worker may take the run over (also the retry-at time).
    lease_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    completed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    output_records: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bytes the run committed (metrics read it in one grouped query, without the JSON doc).
    output_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    committed_version: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Epoch ms when the scheduler's sweep last sent this run's task to the broker (Celery
    # executor); None when only its creator did (then `created_at` stands for it).
    enqueued_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        UniqueConstraint("flow_id", "tick"),
        Index("ix_runs_due", "status", "start_at"),
        Index("ix_runs_tenant_created", "org_id", "sandbox_id", "created_at", "id"),
        # A flow's runs newest first (its runs page) without walking other flows' runs.
        Index("ix_runs_flow_created", "flow_id", "created_at", "id"),
        # At most one re-trigger of a chain that is live or has succeeded: concurrent
        # re-triggers of one failed run insert one row (DESIGN §5).
        Index(
            "ux_runs_one_live_retrigger",
            "retry_root",
            unique=True,
            sqlite_where=LIVE_RETRIGGER,
            postgresql_where=LIVE_RETRIGGER,
        ),
    )


class RunBadRow(Base):
    """A row a run could not parse or cast, with the reason (error diagnostics)."""

    __tablename__ = "run_bad_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(1024))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text, nullable=True)


class SchedulerLease(Base):
    """The one active scheduler holds this row's lease; the others stand by."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[int] = mapped_column(BigInteger)


class Worker(Base):
    """A worker process and its last heartbeat (for monitoring and lease decisions)."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[int] = mapped_column(BigInteger)
    heartbeat_at: Mapped[int] = mapped_column(BigInteger)
    current_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Comma-separated queues it serves (Celery), empty for a local worker; and its executor.
    queues: Mapped[str] = mapped_column(String(1024), default="", server_default="")
    executor: Mapped[str] = mapped_column(String(16), default="local", server_default="local")


class Webhook(ResourceColumns, Base):
    """A URL subscribed to run events (the event names live in `doc`). The signing secret is
    sealed like connection secrets and never leaves the service."""

    __tablename__ = "webhooks"

    url: Mapped[str] = mapped_column(String(2048))
    # Only this flow's events when set. No foreign key: a deleted flow leaves a filter that
    # simply matches nothing, rather than deleting or widening the subscription.
    flow_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)


class WebhookEvent(Base):
    """The outbox: a run event, written in the same transaction as the run change it reports.

    One event per (run, event type): the unique constraint, not the callers, guarantees that
    a retried transaction or a second scheduler cannot report a run's start or end twice.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("run_id", "event_type"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(32))
    # No foreign keys to flows and runs: an event outlives a deleted flow until delivered.
    flow_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)


class WebhookDelivery(Base):
    """One event for one subscription: the dispatcher's queue entry and its delivery log.

    Claimed like runs: `claim_token` is stamped with a lease in `next_attempt_at`, so two
    dispatchers never post the same delivery at once, and a dispatcher that died mid-post
    leaves a delivery that becomes due again when its lease runs out (at least once).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_log", "webhook_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Epoch ms: when the next attempt is due (while claimed, when the claim's lease ends).
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    claim_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Every attempt: when, the receiver's status code or the error, and how long it took.
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
