"""The tables of the relational store, in one place beside their migrations (``stadtpuls/migrations``).

Only the stores use these classes (``devices/registry.py``, ``ingest/quarantine.py``,
``processing/events.py``); everything else works with the plain records those stores return, so the pipeline
and the API never hold an ORM object.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stadtpuls.db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class Device(Base):
    """One installed sensor."""

    __tablename__ = "devices"

    dev_eui: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(100), index=True)
    site: Mapped[str] = mapped_column(String(200), index=True)
    municipality: Mapped[str] = mapped_column(String(200), index=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class QuarantinedMessage(Base):
    """A rejected message: raw topic and payload, the stage that rejected it and why."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    dev_eui: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    municipality: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


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
