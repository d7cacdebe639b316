"""The tables of the relational store, in one place beside their migrations (``stadtpuls/migrations``).

Only the stores use these classes (``devices/registry.py``, ``ingest/quarantine.py``,
``processing/events.py``); everything else works with the plain records those stores return, so the pipeline
and the API never hold an ORM object.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from stadtpuls.db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class Municipality(Base):
    """A town or partner municipality that owns sites and devices."""

    __tablename__ = "municipalities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Site(Base):
    """A place devices are installed at: a parking lot, a street section, a measuring station."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("municipality_id", "name", name="uq_sites_municipality_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32), default="other")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)  # parking bays, parking lots only
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    municipality: Mapped[Municipality] = relationship(lazy="joined")


class Device(Base):
    """One installed sensor."""

    __tablename__ = "devices"

    dev_eui: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(100), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    installed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    status_changed_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    site: Mapped[Site] = relationship(lazy="joined")
    # appended to without loading; rows go with the device (ON DELETE CASCADE)
    history: WriteOnlyMapped[DeviceStatusChange] = relationship(passive_deletes=True, order_by="DeviceStatusChange.id")


class DeviceStatusChange(Base):
    """One step of a device's lifecycle: from which status to which, when, by whom, and why."""

    __tablename__ = "device_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dev_eui: Mapped[str] = mapped_column(ForeignKey("devices.dev_eui", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    changed_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")


class Alarm(Base):
    """A condition a technician should look at; open while ``cleared_at`` is empty."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_open", "dev_eui", "kind", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dev_eui: Mapped[str] = mapped_column(ForeignKey("devices.dev_eui", ondelete="CASCADE"), index=True)
    municipality: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class QuarantinedMessage(Base):
    """A rejected message: raw topic and payload, the stage that rejected it and why.

    Identical rejections (same device, or topic without one; same stage, reason and payload) are one row:
    ``count`` says how many arrived, ``received_at`` when the first and ``last_seen`` when the latest did.
    ``fingerprint`` is the SHA-256 of that identity (empty for rows older than revision 0005).
    """

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # first seen
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    dev_eui: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    municipality: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class QuarantineSource(Base):
    """The last batch of quarantine records stored from one ingest process's local pending folder.

    Written in the same transaction as the batch's rows, so a batch stored just before a crash (or before a
    connection dropped during the commit) is recognised when it is offered again, and never stored twice.
    """

    __tablename__ = "quarantine_sources"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)  # the pending folder's id
    last_batch: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ApiKey(Base):
    """A key of the query API: only its SHA-256 is stored, with its role and municipality."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    municipality: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: every municipality
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to recognise it in listings
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the whole key
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AnomalyEvent(Base):
    """One anomalous condition of one device (and quantity and channel), as the detection job keeps it.

    ``onset`` is when the condition began, ``start`` when it became recognisable, ``end`` the last reading that
    still showed it; ``first_seen``/``last_seen`` when the detection job first and last reported it. An event is
    ``open`` while the latest data still show the condition. The key (device, quantity, channel, kind, onset) is
    unique, so the same condition is never stored twice.
    """

    __tablename__ = "anomaly_events"
    __table_args__ = (
        UniqueConstraint("dev_eui", "quantity", "channel", "kind", "onset", name="uq_anomaly_events_key"),
        Index("ix_anomaly_events_series", "dev_eui", "quantity", "channel", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dev_eui: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[str] = mapped_column(String(64))  # "" for events of the device as a whole (gaps)
    channel: Mapped[str] = mapped_column(String(64))  # "" for single-channel devices
    kind: Mapped[str] = mapped_column(String(32), index=True)
    municipality: Mapped[str] = mapped_column(String(200), index=True)
    site: Mapped[str] = mapped_column(String(200))
    onset: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    open: Mapped[bool] = mapped_column(Boolean, index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
