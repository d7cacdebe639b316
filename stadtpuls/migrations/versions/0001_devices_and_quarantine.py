"""devices and quarantine

Revision ID: 0001
Revises:
Create Date: 2026-11-25 03:13:39.169914
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "devices",
        sa.Column("dev_eui", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("municipality", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dev_eui"),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_model"), ["model"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_municipality"), ["municipality"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_site"), ["site"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("dev_eui", sa.String(length=16), nullable=True),
        sa.Column("municipality", sa.String(length=200), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_dev_eui"), ["dev_eui"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_municipality"), ["municipality"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_quarantine_stage"), ["stage"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_stage"))
        batch_op.drop_index(batch_op.f("ix_quarantine_received_at"))
        batch_op.drop_index(batch_op.f("ix_quarantine_municipality"))
        batch_op.drop_index(batch_op.f("ix_quarantine_dev_eui"))

    op.drop_table("quarantine")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_site"))
        batch_op.drop_index(batch_op.f("ix_devices_municipality"))
        batch_op.drop_index(batch_op.f("ix_devices_model"))

    op.drop_table("devices")
