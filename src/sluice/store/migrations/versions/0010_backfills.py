"""backfills and backfill_chunks; runs.backfill_id / backfill_chunk with one live (or
succeeded) run per chunk

Existing runs belong to no backfill (NULL), so no data has to be migrated.

Revision ID: 0010
Revises: 0007 (the lead re-chains it after 0009 at merge)
Create Date: 2026-12-07 00:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE_CHUNK_RUN = "backfill_id IS NOT NULL AND status IN ('scheduled', 'inProgress', 'success')"
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "backfills",
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("chunk_unit", sa.String(length=8), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("parallelism", sa.Integer(), nullable=False),
        sa.Column("delta_column", sa.String(length=256), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("created_client", sa.String(length=256), nullable=False),
        sa.Column("updated_client", sa.String(length=256), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("doc", _JSON, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_backfills_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_backfills_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_backfills_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfills")),
    )
    with op.batch_alter_table("backfills", schema=None) as batch_op:
        batch_op.create_index(
            "ix_backfills_tenant_created",
            ["org_id", "sandbox_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_backfills_flow_status", ["flow_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_backfills_status"), ["status"], unique=False)
    op.create_table(
        "backfill_chunks",
        sa.Column("backfill_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["backfill_id"],
            ["backfills.id"],
            name=op.f("fk_backfill_chunks_backfill_id_backfills"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("backfill_id", "position", name=op.f("pk_backfill_chunks")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backfill_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("backfill_chunk", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_runs_backfill_id_backfills"),
            "backfills",
            ["backfill_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ux_runs_one_live_chunk_run",
            ["backfill_id", "backfill_chunk"],
            unique=True,
            sqlite_where=sa.text(_LIVE_CHUNK_RUN),
            postgresql_where=sa.text(_LIVE_CHUNK_RUN),
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ux_runs_one_live_chunk_run")
        batch_op.drop_constraint(batch_op.f("fk_runs_backfill_id_backfills"), type_="foreignkey")
        batch_op.drop_column("backfill_chunk")
        batch_op.drop_column("backfill_id")
    op.drop_table("backfill_chunks")
    with op.batch_alter_table("backfills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backfills_status"))
        batch_op.drop_index("ix_backfills_flow_status")
        batch_op.drop_index("ix_backfills_tenant_created")
    op.drop_table("backfills")
