"""anomaly events

Revision ID: 0004_anomaly_events
Revises: 0001
Create Date: 2026-11-26 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_anomaly_events"
down_revision = "0003_sites_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anomaly_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dev_eui", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("municipality", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("onset", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dev_eui", "quantity", "channel", "kind", "onset", name="uq_anomaly_events_key"),
    )
    with op.batch_alter_table("anomaly_events", schema=None) as batch_op:
        batch_op.create_index("ix_anomaly_events_series", ["dev_eui", "quantity", "channel", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_anomaly_events_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_anomaly_events_municipality"), ["municipality"], unique=False)
        batch_op.create_index(batch_op.f("ix_anomaly_events_start"), ["start"], unique=False)
        batch_op.create_index(batch_op.f("ix_anomaly_events_end"), ["end"], unique=False)
        batch_op.create_index(batch_op.f("ix_anomaly_events_open"), ["open"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("anomaly_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anomaly_events_open"))
        batch_op.drop_index(batch_op.f("ix_anomaly_events_end"))
        batch_op.drop_index(batch_op.f("ix_anomaly_events_start"))
        batch_op.drop_index(batch_op.f("ix_anomaly_events_municipality"))
        batch_op.drop_index(batch_op.f("ix_anomaly_events_kind"))
        batch_op.drop_index("ix_anomaly_events_series")
    op.drop_table("anomaly_events")
