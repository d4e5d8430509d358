"""flows.next_tick_at: when each flow's next schedule tick is due, indexed with the state;
runs indexed by (flow, created) instead of by flow alone

Existing flows get 0 ("not known yet"): the scheduler's next pass works their next tick out
from their schedule and their runs, so no data has to be migrated here. The runs index keeps
serving lookups by flow (its first column) and also serves a flow's runs newest first.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_tick_at", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index("ix_flows_due", ["state", "next_tick_at"], unique=False)
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_flow_created", ["flow_id", "created_at", "id"], unique=False)
        batch_op.drop_index("ix_runs_flow_id")


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_flow_id", ["flow_id"], unique=False)
        batch_op.drop_index("ix_runs_flow_created")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_index("ix_flows_due")
        batch_op.drop_column("next_tick_at")
