"""The tables of the relational store, in one place beside their migrations (``stadtpuls/migrations``).

Only the stores use these classes (``devices/registry.py``, ``ingest/quarantine.py``); everything else works
with the plain records those stores return, so the pipeline and the API never hold an ORM object.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Float, Integer, LargeBinary, String, Text
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
