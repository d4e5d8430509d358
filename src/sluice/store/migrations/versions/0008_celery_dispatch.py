"""runs.enqueued_at and workers.queues / workers.executor: the Celery executor's bookkeeping

`runs.enqueued_at` is when the scheduler's sweep last sent a run's task to the broker, so a
sweep does not send it again while that task may still be on its way. `workers` rows say
which queues each worker serves and which executor runs it (monitoring only).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enqueued_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queues", sa.String(length=1024), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("executor", sa.String(length=16), server_default="local", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("executor")
        batch_op.drop_column("queues")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("enqueued_at")
