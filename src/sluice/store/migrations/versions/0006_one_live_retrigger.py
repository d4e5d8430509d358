"""runs.retry_root and a partial unique index: one live (or succeeded) re-trigger per chain

Existing re-triggers get their chain's first run from `retry_of`, walked back to the run that
is not a re-trigger. If a chain already holds more than one live or successful re-trigger
(the defect this index closes), only the newest keeps its place in the index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREDICATE = "retry_root IS NOT NULL AND status IN ('scheduled', 'inProgress', 'success')"


def _backfill_roots() -> None:
    """Point every re-trigger at its chain's first run (chains are short: a few links)."""
    runs = sa.table(
        "runs",
        sa.column("id", sa.String),
        sa.column("retry_of", sa.String),
        sa.column("retry_root", sa.String),
        sa.column("created_at", sa.BigInteger),
        sa.column("status", sa.String),
    )
    bind = op.get_bind()
    parents: dict[str, str] = {
        run_id: retry_of
        for run_id, retry_of in bind.execute(
            sa.select(runs.c.id, runs.c.retry_of).where(runs.c.retry_of.is_not(None))
        )
    }
    roots: dict[str, str] = {}
    for run_id in parents:
        root = parents[run_id]
        seen = {run_id}
        while root in parents and root not in seen:
            seen.add(root)
            root = parents[root]
        roots[run_id] = root
    rows = bind.execute(
        sa.select(runs.c.id, runs.c.status, runs.c.created_at).where(
            runs.c.id.in_(list(roots)) if roots else sa.false()
        )
    ).all()
    kept: set[str] = set()
    # Newest first: the newest live re-trigger of a chain keeps its place in the index.
    for run_id, status, _created in sorted(rows, key=lambda r: r[2], reverse=True):
        root = roots[run_id]
        live = status in ("scheduled", "inProgress", "success")
        if live and root in kept:
            continue  # an older duplicate of the defect: leave it out of the index
        if live:
            kept.add(root)
        bind.execute(runs.update().where(runs.c.id == run_id).values(retry_root=root))


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry_root", sa.String(length=36), nullable=True))
    _backfill_roots()
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            "ux_runs_one_live_retrigger",
            ["retry_root"],
            unique=True,
            sqlite_where=sa.text(_PREDICATE),
            postgresql_where=sa.text(_PREDICATE),
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ux_runs_one_live_retrigger")
        batch_op.drop_column("retry_root")
