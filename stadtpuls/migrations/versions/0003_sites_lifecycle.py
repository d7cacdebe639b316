"""municipalities, sites, device lifecycle with history, alarms

Devices registered before this revision keep everything: each distinct municipality and (municipality, site)
pair becomes a row of its own (sites of type "other"), each device points at its site, and each device is
``active`` with one history entry by "migration" at its registration time.

Revision ID: 0003_sites_lifecycle
Revises: 0001
Create Date: 2026-11-25 23:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sites_lifecycle"
down_revision = "0002_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the devices table is rebuilt on SQLite (batch mode): nothing may reference it until it is done, or the
    # rebuild's DROP TABLE would cascade into the referencing rows
    _create_tables()
    _add_device_columns()
    _fill_from_existing_devices()
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("status_changed_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_foreign_key("fk_devices_site_id_sites", "sites", ["site_id"], ["id"])
        batch_op.drop_index("ix_devices_site")
        batch_op.drop_index("ix_devices_municipality")
        batch_op.drop_column("site")
        batch_op.drop_column("municipality")
    _create_history()
    _create_alarms()


def _create_tables() -> None:
    op.create_table(
        "municipalities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipalities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("municipality_id", "name", name="uq_sites_municipality_name"),
    )
    op.create_index("ix_sites_municipality_id", "sites", ["municipality_id"])


def _add_device_columns() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("installed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="active"))
        batch_op.add_column(sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("status_changed_by", sa.String(length=200), nullable=False, server_default="migration")
        )
        batch_op.create_index("ix_devices_site_id", ["site_id"])
        batch_op.create_index("ix_devices_status", ["status"])


def _fill_from_existing_devices() -> None:
    """Municipalities and sites from the old text columns; each device linked to its site."""
    op.execute(
        "INSERT INTO municipalities (name, created_at) "
        "SELECT municipality, MIN(created_at) FROM devices GROUP BY municipality"
    )
    op.execute(
        "INSERT INTO sites (municipality_id, name, type, created_at) "
        "SELECT m.id, d.site, 'other', MIN(d.created_at) FROM devices d "
        "JOIN municipalities m ON m.name = d.municipality GROUP BY m.id, d.site"
    )
    op.execute(
        "UPDATE devices SET site_id = (SELECT s.id FROM sites s JOIN municipalities m ON m.id = s.municipality_id "
        "WHERE m.name = devices.municipality AND s.name = devices.site), status_changed_at = created_at"
    )


def _create_history() -> None:
    op.create_table(
        "device_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dev_eui", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["dev_eui"], ["devices.dev_eui"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_device_status_changes_dev_eui", "device_status_changes", ["dev_eui"])
    op.execute(
        "INSERT INTO device_status_changes (dev_eui, from_status, to_status, changed_at, changed_by, note) "
        "SELECT dev_eui, NULL, 'active', created_at, 'migration', 'registered before lifecycle tracking' "
        "FROM devices"
    )


def _create_alarms() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dev_eui", sa.String(length=16), nullable=False),
        sa.Column("municipality", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["dev_eui"], ["devices.dev_eui"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alarms_dev_eui", "alarms", ["dev_eui"])
    op.create_index("ix_alarms_municipality", "alarms", ["municipality"])
    op.create_index("ix_alarms_raised_at", "alarms", ["raised_at"])
    op.create_index("ix_alarms_open", "alarms", ["dev_eui", "kind", "cleared_at"])


def downgrade() -> None:
    op.drop_table("alarms")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("municipality", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE devices SET site = (SELECT s.name FROM sites s WHERE s.id = devices.site_id), "
        "municipality = (SELECT m.name FROM sites s JOIN municipalities m ON m.id = s.municipality_id "
        "WHERE s.id = devices.site_id)"
    )
    op.drop_table("device_status_changes")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column("site", existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column("municipality", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index("ix_devices_site", ["site"])
        batch_op.create_index("ix_devices_municipality", ["municipality"])
        batch_op.drop_constraint("fk_devices_site_id_sites", type_="foreignkey")
        batch_op.drop_index("ix_devices_status")
        batch_op.drop_index("ix_devices_site_id")
        for column in ("status_changed_by", "status_changed_at", "status", "notes", "installed_on", "site_id"):
            batch_op.drop_column(column)
    op.drop_table("sites")
    op.drop_table("municipalities")
