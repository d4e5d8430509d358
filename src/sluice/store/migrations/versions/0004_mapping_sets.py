"""mapping sets: the resource, its immutable versions, and which flow pins which set

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _resource_columns() -> list[sa.Column[object]]:
    """The system columns every flow-service resource table has (`ResourceColumns`)."""
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("created_client", sa.String(length=256), nullable=False),
        sa.Column("updated_client", sa.String(length=256), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("sandbox_id", sa.String(length=36), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "mapping_sets",
        sa.Column("version", sa.Integer(), nullable=False),
        *_resource_columns(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_mapping_sets_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_id"],
            ["sandboxes.id"],
            name=op.f("fk_mapping_sets_sandbox_id_sandboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mapping_sets")),
    )
    with op.batch_alter_table("mapping_sets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mapping_sets_tenant_created",
            ["org_id", "sandbox_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "mapping_set_versions",
        sa.Column("mapping_set_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("doc", JSON_DOCUMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["mapping_set_id"],
            ["mapping_sets.id"],
            name=op.f("fk_mapping_set_versions_mapping_set_id_mapping_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mapping_set_id", "version", name=op.f("pk_mapping_set_versions")),
    )

    op.create_table(
        "flow_mapping_sets",
        sa.Column("flow_id", sa.String(length=36), nullable=False),
        sa.Column("mapping_set_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_flow_mapping_sets_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mapping_set_id"],
            ["mapping_sets.id"],
            name=op.f("fk_flow_mapping_sets_mapping_set_id_mapping_sets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("flow_id", "mapping_set_id", name=op.f("pk_flow_mapping_sets")),
    )
    with op.batch_alter_table("flow_mapping_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_mapping_sets_mapping_set_id"), ["mapping_set_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("flow_mapping_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_mapping_sets_mapping_set_id"))
    op.drop_table("flow_mapping_sets")
    op.drop_table("mapping_set_versions")
    with op.batch_alter_table("mapping_sets", schema=None) as batch_op:
        batch_op.drop_index("ix_mapping_sets_tenant_created")
    op.drop_table("mapping_sets")
