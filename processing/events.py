"""The anomaly events store: what the detectors found, kept current in the registry database.

Events live in the relational store (table ``anomaly_events``) rather than in InfluxDB because they are
records that change: an event grows while its condition lasts, is merged with an overlapping one, is closed
when the condition ends, and is looked up by device and state for the alarm list. That is an update by key,
which a relational table does in place and a time-series store cannot.

Rules of :meth:`EventStore.upsert`:

* an event is identified by device, quantity, channel, kind and onset (a unique key), so detecting the same
  data again updates the stored event instead of adding one;
* a detection that overlaps (or touches, within ``merge_gap``) stored events of the same device, quantity,
  channel and kind is merged into the earliest of them; the others are folded in and deleted;
* an open stored event of a series that was examined up to ``until`` and not found open again is closed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from stadtpuls.db import open_database
from stadtpuls.errors import DataError
from stadtpuls.tables import AnomalyEvent

MERGE_GAP = 0.0  # s: detections of one series further apart than this stay separate events
MAX_REASON = 2000  # characters kept of a reason
MAX_LIST = 10_000  # events one listing returns at most


class EventError(DataError, ValueError):
    """A detected event cannot be stored: a missing key, times that are not finite or out of order."""


SeriesKey = tuple[str, str, str]  # dev_eui, quantity, channel


@dataclass(frozen=True, slots=True)
class Detection:
    """One event as a detector reports it, with the series it belongs to (times: seconds since the epoch)."""

    dev_eui: str
    quantity: str
    channel: str
    kind: str
    onset: float
    start: float
    end: float
    score: float
    reason: str
    open: bool = False
    municipality: str = ""
    site: str = ""

    @property
    def series(self) -> SeriesKey:
        """The series the event belongs to."""
        return (self.dev_eui, self.quantity, self.channel)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the store keeps it (plain values; times are aware UTC datetimes)."""

    id: int
    dev_eui: str
    quantity: str
    channel: str
    kind: str
    municipality: str
    site: str
    onset: datetime
    start: datetime
    end: datetime
    score: float
    reason: str
    open: bool
    first_seen: datetime
    last_seen: datetime


@dataclass
class UpsertReport:
    """What one :meth:`EventStore.upsert` changed."""

    inserted: int = 0
    updated: int = 0
    merged: int = 0  # stored events folded into another and deleted
    closed: int = 0


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _record(row: AnomalyEvent) -> StoredEvent:
    return StoredEvent(
        id=row.id, dev_eui=row.dev_eui, quantity=row.quantity, channel=row.channel, kind=row.kind,
        municipality=row.municipality, site=row.site, onset=_utc(row.onset), start=_utc(row.start),
        end=_utc(row.end), score=row.score, reason=row.reason, open=row.open, first_seen=_utc(row.first_seen),
        last_seen=_utc(row.last_seen),
    )


def check(detection: Detection) -> Detection:
    """The detection if it can be stored.

    Raises:
        EventError: naming what is wrong.
    """
    if not detection.dev_eui or not detection.kind:
        raise EventError(f"an event needs a device and a kind, got {detection.dev_eui!r}/{detection.kind!r}")
    times = (detection.onset, detection.start, detection.end)
    if not all(math.isfinite(t) and 0 <= t < 253_402_300_800 for t in times):
        raise EventError(f"event times of {detection.dev_eui} {detection.kind} must be finite and after 1970")
    if not detection.onset <= detection.start <= detection.end:
        raise EventError(
            f"event of {detection.dev_eui} {detection.kind}: expected onset <= start <= end, got {times}"
        )
    if not math.isfinite(detection.score):
        raise EventError(f"event of {detection.dev_eui} {detection.kind}: score must be finite")
    return detection


class EventStore:
    """Anomaly events in the registry database (SQLite or PostgreSQL)."""

    def __init__(self, url: str, *, merge_gap: float = MERGE_GAP) -> None:
        self._sessions: sessionmaker[Session] = open_database(url)
        self.merge_gap = merge_gap

    def upsert(
        self,
        detections: Iterable[Detection],
        *,
        examined: Iterable[SeriesKey] = (),
        until: float | None = None,
        now: float | None = None,
    ) -> UpsertReport:
        """Store detections: insert new conditions, extend and merge known ones, close those that ended.

        Args:
            detections: the events found in one run.
            examined: the series the run looked at; their open events that the run did not find open again
                are closed (only those that end at or before ``until``).
            until: the end of the data the run looked at (seconds since the epoch); required with ``examined``.
            now: the wall-clock time recorded as first/last seen (default the clock).

        Returns:
            Counts of inserted, updated, merged and closed events.

        Raises:
            EventError: a detection cannot be stored.
        """
        seen_at = _moment(now) if now is not None else datetime.now(UTC)
        checked = sorted((check(d) for d in detections), key=lambda d: (d.series, d.kind, d.onset))
        report = UpsertReport()
        still_open: set[int] = set()
        with self._sessions() as session, session.begin():
            for detection in checked:
                row = self._merge_one(session, detection, seen_at, report)
                if row.open:
                    still_open.add(row.id)
            examined_keys = set(examined)
            if examined_keys:
                if until is None:
                    raise EventError("closing events needs the end of the data examined (until)")
                report.closed = self._close(session, examined_keys, still_open, _moment(until), seen_at)
        return report

    def _merge_one(
        self, session: Session, detection: Detection, seen_at: datetime, report: UpsertReport
    ) -> AnomalyEvent:
        onset, start, end = _moment(detection.onset), _moment(detection.start), _moment(detection.end)
        lower, upper = _moment(detection.onset - self.merge_gap), _moment(detection.end + self.merge_gap)
        rows = list(session.scalars(
            select(AnomalyEvent)
            .where(
                AnomalyEvent.dev_eui == detection.dev_eui,
                AnomalyEvent.quantity == detection.quantity,
                AnomalyEvent.channel == detection.channel,
                AnomalyEvent.kind == detection.kind,
                AnomalyEvent.onset <= upper,
                AnomalyEvent.end >= lower,
            )
            .order_by(AnomalyEvent.onset, AnomalyEvent.id)
            .with_for_update()
        ))
        reason = detection.reason[:MAX_REASON]
        if not rows:
            row = AnomalyEvent(
                dev_eui=detection.dev_eui, quantity=detection.quantity, channel=detection.channel,
                kind=detection.kind, municipality=detection.municipality, site=detection.site, onset=onset,
                start=start, end=end, score=detection.score, reason=reason, open=detection.open,
                first_seen=seen_at, last_seen=seen_at,
            )
            try:
                with session.begin_nested():
                    session.add(row)
                    session.flush()
            except IntegrityError:  # another worker stored the same condition meanwhile: update that one
                return self._merge_one(session, detection, seen_at, report)
            report.inserted += 1
            return row
        keeper, others = rows[0], rows[1:]
        for other in others:  # a detection bridging stored events joins them into one
            self._absorb(keeper, other.onset, other.start, other.end, other.score, other.reason, other.open)
            keeper.first_seen = min(_utc(keeper.first_seen), _utc(other.first_seen))
            session.delete(other)
            report.merged += 1
        if others:
            session.flush()
        self._absorb(keeper, onset, start, end, detection.score, reason, detection.open)
        keeper.last_seen = seen_at
        if not keeper.municipality:
            keeper.municipality, keeper.site = detection.municipality, detection.site
        report.updated += 1
        return keeper

    @staticmethod
    def _absorb(
        row: AnomalyEvent, onset: datetime, start: datetime, end: datetime, score: float, reason: str, is_open: bool
    ) -> None:
        row_end = _utc(row.end)
        if _utc(end) > row_end:
            row.open = is_open  # the later data decide whether the condition still holds
        elif _utc(end) == row_end:
            row.open = row.open or is_open
        row.onset = min(_utc(row.onset), _utc(onset))
        row.start = min(_utc(row.start), _utc(start))
        row.end = max(row_end, _utc(end))
        if score > row.score:
            row.score, row.reason = score, reason

    @staticmethod
    def _close(
        session: Session, examined: set[SeriesKey], still_open: set[int], until: datetime, seen_at: datetime
    ) -> int:
        closed = 0
        keys = sorted(examined)
        for chunk in range(0, len(keys), 200):
            part = keys[chunk : chunk + 200]
            condition = or_(*(
                and_(AnomalyEvent.dev_eui == d, AnomalyEvent.quantity == q, AnomalyEvent.channel == c)
                for d, q, c in part
            ))
            for row in session.scalars(select(AnomalyEvent).where(AnomalyEvent.open.is_(True), condition)):
                if row.id in still_open or _utc(row.end) > until:
                    continue
                row.open = False
                row.last_seen = seen_at
                closed += 1
        return closed

    def list(
        self,
        *,
        dev_eui: str | None = None,
        kind: str | None = None,
        municipality: str | None = None,
        open_only: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        """Stored events, newest onset first; ``since``/``until`` select events overlapping that span."""
        query = select(AnomalyEvent)
        if dev_eui is not None:
            query = query.where(AnomalyEvent.dev_eui == dev_eui)
        if kind is not None:
            query = query.where(AnomalyEvent.kind == kind)
        if municipality is not None:
            query = query.where(AnomalyEvent.municipality == municipality)
        if open_only:
            query = query.where(AnomalyEvent.open.is_(True))
        if since is not None:
            query = query.where(AnomalyEvent.end >= since)
        if until is not None:
            query = query.where(AnomalyEvent.onset < until)
        query = query.order_by(AnomalyEvent.onset.desc(), AnomalyEvent.id.desc()).limit(max(0, min(limit, MAX_LIST)))
        with self._sessions() as session:
            return [_record(row) for row in session.scalars(query)]

    def remove(self, *, before: datetime) -> int:
        """Delete closed events that ended before ``before``; returns how many."""
        with self._sessions() as session, session.begin():
            result = session.execute(
                delete(AnomalyEvent).where(AnomalyEvent.open.is_(False), AnomalyEvent.end < before)
            )
            return int(getattr(result, "rowcount", 0) or 0)
