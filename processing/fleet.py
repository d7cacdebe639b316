"""Fleet summaries in InfluxDB: what the boards need and the stored measurements do not hold.

Grafana reads InfluxDB only. Open alarms, anomaly events and quarantined messages live in the registry
database; how far ingest and processing lag behind is a difference to the clock, which InfluxQL cannot take;
and the lots' positions are in the registry too. The processing service therefore writes, for the sites it
owns (``--fleet-every`` seconds apart, and with every backfill), these points (README, "Stored data"):

* ``fleet_alarms`` (tags ``municipality``, ``site``, ``kind``; field ``open``): alarms open now, one point per
  site and alarm kind (0 when none is open), stamped at the start of the minute;
* ``fleet_anomalies`` (same tags; field ``open``): open anomaly events per site and event kind;
* ``fleet_quarantine`` (tags ``municipality``, ``site``, ``stage``; field ``messages``): quarantine records
  first seen per minute (identical rejections, which quarantine keeps as one record with a count, count once),
  stamped at the minute's start and recounted while the minute is recent (idempotent); each
  summary's own minute has a point for every site and every stage seen so far (0 when none); messages of
  devices the registry does not know carry no site tag and are counted by shard 0;
* ``fleet_lag`` (tags ``municipality``, ``site``; fields ``ingest`` and ``processing``, s): how old the newest
  stored uplink of the site is, and how far the site's processed outputs trail the clock;
* ``lot_availability`` fields ``lat`` and ``lon`` (°, WGS 84) on every parking lot's series: the site's
  position from the registry, else the centre of its devices, so that a map can colour lots by occupancy.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from devices.alarms import Kind
from devices.registry import DeviceRegistry
from processing.engine import Site
from processing.store import MINUTE, NS, Points, ProcessingStore
from stadtpuls.db import open_database
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import quote_identifier
from stadtpuls.schema import UPLINK_MEASUREMENT
from stadtpuls.tables import Alarm, AnomalyEvent, Device, Municipality, QuarantinedMessage
from stadtpuls.tables import Site as SiteRow

ALARM_KINDS = tuple(kind.value for kind in Kind)
# the kinds of event the detectors report (processing.detect.Event)
ANOMALY_KINDS = ("out_of_range", "stuck", "spike", "gap", "drift", "seasonal", "impossible", "packet_loss", "restart")
FLEET_EVERY = 60.0  # s between summaries of the service
QUARANTINE_FIRST = 3600 * NS  # how far back the first summary after a start recounts quarantined messages
LAG_LOOKBACK = 7 * 24 * 3600 * NS  # the newest uplink of a site is looked for this far back
PlaceKey = tuple[str, str]  # (municipality, site)


@dataclass(frozen=True, slots=True)
class FleetReport:
    """What one summary wrote."""

    sites: int
    points: int
    open_alarms: int
    open_anomalies: int
    quarantined: int


def minute_floor(ns: int) -> int:
    """The start of the minute that holds ``ns``."""
    return ns - ns % MINUTE


class FleetSummary:
    """Counts from the registry database and the clock, written as points for the sites of one worker.

    Args:
        registry_url: the registry database (alarms, anomaly events, quarantine, sites).
        owned: the sites this worker owns (``processing.service.load_sites``).
        unattributed: whether this worker also counts quarantined messages of unknown devices (shard 0 does).
    """

    def __init__(self, registry_url: str, owned: Sequence[Site], *, unattributed: bool) -> None:
        self._sessions: sessionmaker[Session] = open_database(registry_url)
        self._registry_url = registry_url
        self._owned = {(s.municipality, s.site): s for s in owned}
        self._unattributed = unattributed

    def open_alarms(self) -> Counter[tuple[str, str, str]]:
        """Open alarms per (municipality, site, kind) of the owned sites."""
        query = (
            select(Municipality.name, SiteRow.name, Alarm.kind, func.count())
            .join(Device, Device.dev_eui == Alarm.dev_eui)
            .join(SiteRow, SiteRow.id == Device.site_id)
            .join(Municipality, Municipality.id == SiteRow.municipality_id)
            .where(Alarm.cleared_at.is_(None))
            .group_by(Municipality.name, SiteRow.name, Alarm.kind)
        )
        return self._owned_counts(query)

    def open_anomalies(self) -> Counter[tuple[str, str, str]]:
        """Open anomaly events per (municipality, site, kind) of the owned sites."""
        query = (
            select(AnomalyEvent.municipality, AnomalyEvent.site, AnomalyEvent.kind, func.count())
            .where(AnomalyEvent.open.is_(True))
            .group_by(AnomalyEvent.municipality, AnomalyEvent.site, AnomalyEvent.kind)
        )
        return self._owned_counts(query)

    def _owned_counts(self, query: object) -> Counter[tuple[str, str, str]]:
        found: Counter[tuple[str, str, str]] = Counter()
        with self._sessions() as session:
            for municipality, site, kind, count in session.execute(query):  # type: ignore[call-overload]
                if (municipality, site) in self._owned:
                    found[(municipality, site, kind)] += int(count)
        return found

    def quarantined(self, start: int, end: int) -> Counter[tuple[int, str, str, str]]:
        """Quarantined messages received in [start, end) (ns) per (minute, municipality, site, stage).

        The place is the device's in the registry; messages of unknown devices have the site ``""`` (and the
        municipality the message named, if any) and are counted only by the worker that counts them. Rows
        are streamed: memory grows with the minutes and places that have messages, not with the messages.
        """
        device_site = aliased(SiteRow)
        device_municipality = aliased(Municipality)
        query = (
            select(QuarantinedMessage.received_at, QuarantinedMessage.stage, QuarantinedMessage.municipality,
                   device_municipality.name, device_site.name)
            .outerjoin(Device, Device.dev_eui == QuarantinedMessage.dev_eui)
            .outerjoin(device_site, device_site.id == Device.site_id)
            .outerjoin(device_municipality, device_municipality.id == device_site.municipality_id)
            .where(QuarantinedMessage.received_at >= _moment(start), QuarantinedMessage.received_at < _moment(end))
            .execution_options(yield_per=5000)
        )
        found: Counter[tuple[int, str, str, str]] = Counter()
        with self._sessions() as session:
            for received, stage, named, municipality, site in session.execute(query):
                place = (municipality or named or "", site or "")
                if place in self._owned or (not site and self._unattributed):
                    found[(minute_floor(_ns(received)), *place, stage)] += 1
        return found

    def positions(self) -> dict[PlaceKey, tuple[float, float]]:
        """(lat, lon) of every owned parking lot: the site's from the registry, else the centre of its devices."""
        registered = {(s.municipality, s.name): (s.lat, s.lon) for s in DeviceRegistry(self._registry_url).sites()}
        out: dict[PlaceKey, tuple[float, float]] = {}
        for key, site in self._owned.items():
            if not any(d.device_class == "parking" for d in site.devices):
                continue
            lat, lon = registered.get(key, (None, None))
            if lat is None or lon is None:
                placed = [(d.lat, d.lon) for d in site.devices if d.lat is not None and d.lon is not None]
                if not placed:
                    continue
                lat = sum(p[0] for p in placed) / len(placed)
                lon = sum(p[1] for p in placed) / len(placed)
            out[key] = (float(lat), float(lon))
        return out

    def snapshot_points(self, now: int, alarms: Counter[tuple[str, str, str]],
                        anomalies: Counter[tuple[str, str, str]],
                        positions: dict[PlaceKey, tuple[float, float]]) -> Points:
        """The points of the open alarms and anomalies (every kind, 0 when none) and the lots' positions."""
        points = Points()
        stamp = minute_floor(now)
        for municipality, site in self._owned:
            place = {"municipality": municipality, "site": site}
            for kind in ALARM_KINDS:
                points.add("", "fleet_alarms", {**place, "kind": kind},
                           {"open": float(alarms[(municipality, site, kind)])}, stamp)
            for kind in sorted({*ANOMALY_KINDS, *(k for m, s, k in anomalies if (m, s) == (municipality, site))}):
                points.add("", "fleet_anomalies", {**place, "kind": kind},
                           {"open": float(anomalies[(municipality, site, kind)])}, stamp)
        for (municipality, site), (lat, lon) in positions.items():
            tags = {"municipality": municipality, "site": site, "class": "parking"}
            points.add("", "lot_availability", tags, {"lat": lat, "lon": lon}, stamp)
        return points

    def stages(self) -> list[str]:
        """Every stage that has ever quarantined a message."""
        with self._sessions() as session:
            return sorted(session.scalars(select(QuarantinedMessage.stage).distinct()))

    def quarantine_points(self, counts: Counter[tuple[int, str, str, str]], *, now: int | None = None,
                          stages: Sequence[str] = ()) -> Points:
        """One point per minute, place and stage with quarantined messages.

        With ``now``, the minute that holds it also gets a point for every owned site and every stage in
        ``stages`` (0 when none), so that a site's quarantine rate reads 0 rather than "no data".
        """
        counts = Counter(counts)
        if now is not None:
            for municipality, site in self._owned:
                for stage in stages:
                    counts[(minute_floor(now), municipality, site, stage)] += 0
        points = Points()
        for (minute, municipality, site, stage), count in sorted(counts.items()):
            tags = {"stage": stage}
            if municipality:
                tags["municipality"] = municipality
            if site:
                tags["site"] = site
            points.add("", "fleet_quarantine", tags, {"messages": float(count)}, minute)
        return points

    async def lag_points(self, client: InfluxClient, now: int) -> Points:
        """Seconds since each owned site's newest stored uplink (up to ``now``) and since its watermark."""
        newest = await newest_uplinks(client, start=now - LAG_LOOKBACK, end=now)
        marks = await ProcessingStore(client).watermarks()
        points = Points()
        stamp = minute_floor(now)
        for municipality, site in self._owned:
            fields: dict[str, float] = {}
            if (municipality, site) in newest:
                fields["ingest"] = (now - newest[(municipality, site)]) / NS
            if (municipality, site) in marks:
                fields["processing"] = max(0, now - marks[(municipality, site)]) / NS
            points.add("", "fleet_lag", {"municipality": municipality, "site": site}, fields, stamp)
        return points

    async def write(self, client: InfluxClient, *, now: int, since: int) -> FleetReport:
        """Write the snapshot at ``now`` and the quarantine counts of the minutes from ``since`` (ns)."""
        alarms, anomalies, positions, counts, stages = await asyncio.to_thread(self._read, minute_floor(since), now)
        points = self.snapshot_points(now, alarms, anomalies, positions)
        for more in (self.quarantine_points(counts, now=now, stages=stages), await self.lag_points(client, now)):
            for policy, lines in more.by_policy.items():
                points.by_policy.setdefault(policy, []).extend(lines)
        written = await ProcessingStore(client).write(points)
        return FleetReport(len(self._owned), written, sum(alarms.values()), sum(anomalies.values()),
                           sum(counts.values()))

    async def write_quarantine(self, client: InfluxClient, *, start: int, end: int) -> int:
        """Write the quarantine counts of the minutes in [start, end) (ns): history for a backfill."""
        counts = await asyncio.to_thread(self.quarantined, minute_floor(start), end)
        return await ProcessingStore(client).write(self.quarantine_points(counts))

    def _read(self, start: int, end: int) -> tuple[Counter[tuple[str, str, str]], Counter[tuple[str, str, str]],
                                                   dict[PlaceKey, tuple[float, float]],
                                                   Counter[tuple[int, str, str, str]], list[str]]:
        return (self.open_alarms(), self.open_anomalies(), self.positions(), self.quarantined(start, end),
                self.stages())


async def newest_uplinks(client: InfluxClient, *, start: int, end: int) -> dict[PlaceKey, int]:
    """The time (ns) of the newest stored uplink of every (municipality, site) in [start, end]."""
    query = (
        f"SELECT last({quote_identifier('f_cnt')}) FROM {quote_identifier(UPLINK_MEASUREMENT)} "
        f"WHERE time >= {int(start)} AND time <= {int(end)} "
        f"GROUP BY {quote_identifier('municipality')}, {quote_identifier('site')}"
    )
    out: dict[PlaceKey, int] = {}
    for series in await client.query(query, epoch="ns"):
        tags = series.get("tags") or {}
        rows = series.get("values") or []
        if rows and tags.get("municipality") and tags.get("site"):
            out[(tags["municipality"], tags["site"])] = int(rows[0][0])
    return out


class FleetWriter:
    """Writes a :class:`FleetSummary` every ``every`` seconds, counting quarantine since the last one."""

    def __init__(self, every: float = FLEET_EVERY) -> None:
        self.every = every  # s; 0: never
        self._last: int | None = None  # ns of the last summary
        self._next = 0.0  # monotonic s of the next

    def due(self) -> bool:
        """Whether a summary is due now."""
        return bool(self.every) and time.monotonic() >= self._next

    async def run(self, summary: FleetSummary, client: InfluxClient, now: int | None = None) -> FleetReport:
        """Write one summary now (``now`` in ns, default the clock)."""
        moment = time.time_ns() if now is None else now
        since = moment - QUARANTINE_FIRST if self._last is None else min(self._last, moment) - MINUTE
        report = await summary.write(client, now=moment, since=since)
        self._last = moment
        self._next = time.monotonic() + self.every
        return report


def _moment(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS, UTC)


def _ns(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return round(aware.timestamp() * 1e6) * 1000
