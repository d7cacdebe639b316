"""quarantine: identical rejections counted, last seen, and the pending batches' marks

Revision ID: 0005_quarantine_counts
Revises: 0004_anomaly_events
Create Date: 2026-11-26 03:00:00

Rows kept before this revision get ``count`` 1, ``last_seen`` = ``received_at`` and no fingerprint (so new
rejections are never merged into them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_quarantine_counts"
down_revision = "0004_anomaly_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
    op.execute("UPDATE quarantine SET last_seen = received_at")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.alter_column("last_seen", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f("ix_quarantine_last_seen"), ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_fingerprint"), ["fingerprint"], unique=False)
    op.create_table(
        "quarantine_sources",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("last_batch", sa.String(length=64), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("quarantine_sources")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_quarantine_last_seen"))
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("last_seen")
        batch_op.drop_column("count")
