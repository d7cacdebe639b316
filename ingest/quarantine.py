r"""Quarantine: every message ingest rejects is kept here with its reason, for an operator to inspect and replay.

- **Counted, not repeated.** Identical rejections (the same device, or topic when there is no device; the same
  stage, reason and payload) are one row with a ``count`` and the times the first and the latest arrived, so a
  device sending the same broken frame every minute costs one row, not thousands.
- **Always storable.** Text the database cannot hold (a NUL character in a codec's error text: PostgreSQL
  refuses it; an undecodable topic) is escaped (``\x00``), and values are clipped to their columns, before
  anything is stored.
- **Bounded.** :meth:`QuarantineStore.enforce_limits` deletes rows not seen for ``retention_days`` and, beyond
  ``max_rows``, the rows seen longest ago; the live service calls it now and then
  (``STADTPULS_QUARANTINE_RETENTION_DAYS``, ``STADTPULS_QUARANTINE_MAX_ROWS``).
- **Exactly once from the pending folder.** :meth:`QuarantineStore.store_pending` stores one batch from a
  live process's local pending folder (:mod:`ingest.pending`) and, in the same transaction, marks it as the
  latest batch of that folder: offered again after a crash, it is recognised and not stored twice.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from ingest.pending import QuarantineRefused
from ingest.records import Rejection
from stadtpuls.db import open_database
from stadtpuls.tables import QuarantinedMessage, QuarantineSource

MAX_PAYLOAD = 256 * 1024  # bytes kept of one rejected message
_CHUNK = 500  # ids or fingerprints per IN (...) clause
_LIMITS = {"stage": 32, "dev_eui": 16, "municipality": 200}  # column widths (stadtpuls/tables.py)


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """Which quarantined rows a listing or a purge concerns; every field left empty matches all.

    ``since``/``until`` select rows whose time span (first to latest arrival) overlaps them; ``older_than``
    selects rows whose latest arrival lies before it.
    """

    stage: str | None = None
    dev_eui: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    older_than: datetime | None = None
    pending_only: bool = False

    def conditions(self) -> builtins.list[ColumnElement[bool]]:
        """The SQL conditions of this filter (none: every row)."""
        q = QuarantinedMessage
        found: builtins.list[ColumnElement[bool]] = []
        if self.stage:
            found.append(q.stage == self.stage)
        if self.dev_eui:
            found.append(q.dev_eui == self.dev_eui.replace("-", "").replace(":", "").upper())
        if self.since is not None:
            found.append(q.last_seen >= self.since)
        if self.until is not None:
            found.append(q.received_at <= self.until)
        if self.older_than is not None:
            found.append(q.last_seen < self.older_than)
        if self.pending_only:
            found.append(q.replayed_at.is_(None))
        return found

    def apply(self, query: Select) -> Select:  # type: ignore[type-arg]
        """``query`` narrowed to the rows this filter selects."""
        return query.where(*self.conditions())


@dataclass(frozen=True, slots=True)
class Removed:
    """Rows deleted and the messages they stood for (a row counts its identical rejections)."""

    rows: int = 0
    messages: int = 0


@dataclass(slots=True)
class _Record:
    """One row to store, cleaned, with its identity."""

    received_at: datetime
    last_seen: datetime
    topic: str
    payload: bytes
    stage: str
    reason: str
    dev_eui: str | None
    municipality: str | None
    fingerprint: str
    count: int = 1


class QuarantineStore:
    """Keeps rejected messages in the relational store."""

    def __init__(self, url: str) -> None:
        self._sessions: sessionmaker[Session] = open_database(url)

    # --- storing ----------------------------------------------------------------------------------------------
    def add_many(self, rejections: list[Rejection]) -> None:
        """Store rejections in one transaction, identical ones counted into one row.

        Raises:
            QuarantineRefused: the database refused a record for its content.
        """
        if not rejections:
            return
        with _refusals(), self._sessions.begin() as session:
            _merge(session, rejections)

    def store_pending(self, source: str, batch: str, rejections: list[Rejection]) -> bool:
        """Store one batch of a pending folder, exactly once (see the module docstring).

        Args:
            source: the pending folder's id.
            batch: the batch's id (unique within the folder).
            rejections: the batch's records.

        Returns:
            False when this batch was the folder's latest stored already (nothing is stored again).

        Raises:
            QuarantineRefused: the database refused a record for its content.
        """
        with _refusals(), self._sessions.begin() as session:
            mark = session.get(QuarantineSource, source, with_for_update=True)
            if mark is not None and mark.last_batch == batch:
                return False
            _merge(session, rejections)
            if mark is None:
                session.add(QuarantineSource(source=source, last_batch=batch, stored_at=datetime.now(UTC)))
            else:
                mark.last_batch = batch
                mark.stored_at = datetime.now(UTC)
        return True

    # --- reading ----------------------------------------------------------------------------------------------
    def list(
        self, *, limit: int = 100, stage: str | None = None, pending_only: bool = True,
        where: QuarantineFilter | None = None,
    ) -> builtins.list[QuarantinedMessage]:
        """The rows seen most recently first (pending ones only, unless ``pending_only`` is off)."""
        where = where or QuarantineFilter()
        query = where.apply(select(QuarantinedMessage))
        if stage:
            query = query.where(QuarantinedMessage.stage == stage)
        if pending_only:
            query = query.where(QuarantinedMessage.replayed_at.is_(None))
        query = query.order_by(QuarantinedMessage.last_seen.desc(), QuarantinedMessage.id.desc()).limit(limit)
        with self._sessions() as session:
            return list(session.scalars(query))

    def get(self, message_id: int) -> QuarantinedMessage | None:
        """One rejected message by id."""
        with self._sessions() as session:
            return session.get(QuarantinedMessage, message_id)

    def count(self) -> int:
        """How many rows wait in quarantine (not yet replayed)."""
        query = (
            select(func.count())
            .select_from(QuarantinedMessage)
            .where(QuarantinedMessage.replayed_at.is_(None))
        )
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def matching(self, where: QuarantineFilter) -> Removed:
        """How many rows (and messages) ``where`` selects."""
        query = where.apply(select(func.count(), func.coalesce(func.sum(QuarantinedMessage.count), 0)))
        with self._sessions() as session:
            rows, messages = session.execute(query.select_from(QuarantinedMessage)).one()
        return Removed(int(rows), int(messages))

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

    # --- changing ---------------------------------------------------------------------------------------------
    def mark_replayed(self, ids: builtins.list[int]) -> None:
        """Mark messages as replayed (they stay for the record)."""
        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            for chunk in _chunks(ids):
                for message in session.scalars(select(QuarantinedMessage).where(QuarantinedMessage.id.in_(chunk))):
                    message.replayed_at = now

    def update_reason(self, message_id: int, stage: str, reason: str) -> None:
        """A replayed message failed again: keep it pending with the new stage and reason."""
        with _refusals(), self._sessions.begin() as session:
            message = session.get(QuarantinedMessage, message_id)
            if message is not None:
                message.stage = _clip(stage, "stage")
                message.reason = _clean(reason)
                message.fingerprint = _fingerprint(
                    message.dev_eui, message.topic, message.stage, message.reason, message.payload
                )

    def purge(self, where: QuarantineFilter) -> Removed:
        """Delete the rows ``where`` selects; returns how many (rows and messages)."""
        with self._sessions.begin() as session:
            return _delete(session, where.conditions())

    def enforce_limits(
        self, *, retention_days: float, max_rows: int, now: datetime | None = None
    ) -> tuple[Removed, Removed]:
        """Delete rows not seen for ``retention_days`` (0: keep them), then the rows seen longest ago beyond
        ``max_rows``. Marks of pending folders older than the retention go too. Rows are deleted in SQL, never
        loaded.

        Returns:
            What the retention and what the cap deleted.
        """
        now = now or datetime.now(UTC)
        q = QuarantinedMessage
        expired = capped = Removed()
        with self._sessions.begin() as session:
            if retention_days > 0:
                cutoff = now - timedelta(days=retention_days)
                expired = _delete(session, [q.last_seen < cutoff])
                session.execute(delete(QuarantineSource).where(QuarantineSource.stored_at < cutoff))
            total = int(session.scalar(select(func.count()).select_from(q)) or 0)
            if total > max_rows:  # the newest row to go: everything seen before it, and it, goes
                last = session.execute(
                    select(q.last_seen, q.id).order_by(q.last_seen, q.id).offset(total - max_rows - 1).limit(1)
                ).one()
                capped = _delete(session, [or_(q.last_seen < last.last_seen,
                                                and_(q.last_seen == last.last_seen, q.id <= last.id))])
        return expired, capped


class _Refusals:
    """Turns the database's refusal of a record's content into :class:`QuarantineRefused`."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        if isinstance(exc, DataError | IntegrityError) or (
            isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)
        ):
            raise QuarantineRefused(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc


def _refusals() -> _Refusals:
    return _Refusals()


def _merge(session: Session, rejections: Iterable[Rejection]) -> None:
    """Add ``rejections`` to the session: identical ones (also to a pending row stored before) are counted."""
    records: dict[str, _Record] = {}
    for r in rejections:
        record = _record(r)
        same = records.get(record.fingerprint)
        if same is None:
            records[record.fingerprint] = record
        else:
            same.count += 1
            same.received_at = min(same.received_at, record.received_at)
            same.last_seen = max(same.last_seen, record.last_seen)
    found: dict[str, QuarantinedMessage] = {}
    for chunk in _chunks(list(records)):
        query = (
            select(QuarantinedMessage)
            .where(QuarantinedMessage.fingerprint.in_(chunk), QuarantinedMessage.replayed_at.is_(None))
            .order_by(QuarantinedMessage.id.desc())
        )
        for older in session.scalars(query):
            found[older.fingerprint or ""] = older  # the oldest row of a fingerprint wins
    for fingerprint, record in records.items():
        row = found.get(fingerprint)
        if row is None:
            session.add(QuarantinedMessage(
                received_at=record.received_at, last_seen=record.last_seen, topic=record.topic,
                payload=record.payload, stage=record.stage, reason=record.reason, dev_eui=record.dev_eui,
                municipality=record.municipality, fingerprint=fingerprint, count=record.count,
            ))
            continue
        row.count = QuarantinedMessage.count + record.count  # in SQL: concurrent processes add up correctly
        if record.last_seen > _aware(row.last_seen):
            row.last_seen = record.last_seen


def _record(r: Rejection) -> _Record:
    message = r.message
    arrived = _arrival(message.arrival_ns)
    topic = _clean(message.topic)
    stage = _clip(r.stage, "stage")
    reason = _clean(r.reason)
    dev_eui = _clip(r.dev_eui, "dev_eui") if r.dev_eui else None
    payload = bytes(message.payload[:MAX_PAYLOAD])
    return _Record(
        received_at=arrived, last_seen=arrived, topic=topic, payload=payload, stage=stage, reason=reason,
        dev_eui=dev_eui, municipality=_clip(r.municipality, "municipality") if r.municipality else None,
        fingerprint=_fingerprint(dev_eui, topic, stage, reason, payload),
    )


def _fingerprint(dev_eui: str | None, topic: str, stage: str, reason: str, payload: bytes) -> str:
    """The identity of a rejection: device (or topic), stage, reason and the payload's hash."""
    digest = hashlib.sha256()
    for part in (dev_eui or "topic:" + topic, stage, reason):
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(hashlib.sha256(payload).digest())
    return digest.hexdigest()


def _clean(text: str) -> str:
    r"""Text every database stores: NUL as ``\x00`` (PostgreSQL refuses it), lone surrogates escaped."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode()
    return text


def _clip(text: str, column: str) -> str:
    return _clean(text)[: _LIMITS[column]]


def _delete(session: Session, conditions: builtins.list[ColumnElement[bool]]) -> Removed:
    """Delete the rows matching ``conditions`` in SQL; returns how many rows and messages they were."""
    q = QuarantinedMessage
    rows, messages = session.execute(
        select(func.count(), func.coalesce(func.sum(q.count), 0)).select_from(q).where(*conditions)
    ).one()
    if rows:
        session.execute(delete(q).where(*conditions).execution_options(synchronize_session=False))
    return Removed(int(rows), int(messages))


def _chunks(items: builtins.list[str] | builtins.list[int]) -> Iterator[builtins.list]:  # type: ignore[type-arg]
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _aware(moment: datetime) -> datetime:
    """SQLite gives times back without their zone; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _arrival(arrival_ns: int) -> datetime:
    """When a message arrived, as a timezone-aware time (now, if the number is out of range)."""
    try:
        return datetime.fromtimestamp(arrival_ns / 1e9, UTC)
    except (OverflowError, ValueError, OSError):
        return datetime.now(UTC)
