"""Quarantine: every message ingest rejects is kept here with its reason, for an operator to inspect and replay."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ingest.records import Rejection
from stadtpuls.db import open_database
from stadtpuls.tables import QuarantinedMessage

MAX_PAYLOAD = 256 * 1024  # bytes kept of one rejected message


class QuarantineStore:
    """Keeps rejected messages in the relational store."""

    def __init__(self, url: str) -> None:
        self._sessions: sessionmaker[Session] = open_database(url)

    def add_many(self, rejections: list[Rejection]) -> None:
        """Store rejections in one transaction."""
        if not rejections:
            return
        with self._sessions.begin() as session:
            session.add_all(
                QuarantinedMessage(
                    received_at=_arrival(r.message.arrival_ns),
                    topic=r.message.topic,
                    payload=r.message.payload[:MAX_PAYLOAD],
                    stage=r.stage,
                    reason=r.reason,
                    dev_eui=r.dev_eui,
                    municipality=r.municipality,
                )
                for r in rejections
            )

    def list(
        self, *, limit: int = 100, stage: str | None = None, pending_only: bool = True
    ) -> builtins.list[QuarantinedMessage]:
        """The newest rejected messages first."""
        query = select(QuarantinedMessage).order_by(QuarantinedMessage.id.desc()).limit(limit)
        if stage:
            query = query.where(QuarantinedMessage.stage == stage)
        if pending_only:
            query = query.where(QuarantinedMessage.replayed_at.is_(None))
        with self._sessions() as session:
            return list(session.scalars(query))

    def get(self, message_id: int) -> QuarantinedMessage | None:
        """One rejected message by id."""
        with self._sessions() as session:
            return session.get(QuarantinedMessage, message_id)

    def count(self) -> int:
        """How many messages wait in quarantine (not yet replayed)."""
        query = (
            select(func.count())
            .select_from(QuarantinedMessage)
            .where(QuarantinedMessage.replayed_at.is_(None))
        )
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def mark_replayed(self, ids: builtins.list[int]) -> None:
        """Mark messages as replayed (they stay for the record)."""
        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            for message in session.scalars(select(QuarantinedMessage).where(QuarantinedMessage.id.in_(ids))):
                message.replayed_at = now

    def select(
        self, *, ids: builtins.list[int] | None = None, stage: str | None = None, limit: int | None = None
    ) -> builtins.list[QuarantinedMessage]:
        """Pending (not replayed) messages, oldest first: by id, by stage, or all."""
        query = select(QuarantinedMessage).where(QuarantinedMessage.replayed_at.is_(None))
        if ids is not None:
            query = query.where(QuarantinedMessage.id.in_(ids))
        if stage:
            query = query.where(QuarantinedMessage.stage == stage)
        query = query.order_by(QuarantinedMessage.id)
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as session:
            return list(session.scalars(query))

    def update_reason(self, message_id: int, stage: str, reason: str) -> None:
        """A replayed message failed again: keep it pending with the new stage and reason."""
        with self._sessions.begin() as session:
            message = session.get(QuarantinedMessage, message_id)
            if message is not None:
                message.stage = stage
                message.reason = reason


def _arrival(arrival_ns: int) -> datetime:
    """When a message arrived, as a timezone-aware time (now, if the number is out of range)."""
    try:
        return datetime.fromtimestamp(arrival_ns / 1e9, UTC)
    except (OverflowError, ValueError, OSError):
        return datetime.now(UTC)
