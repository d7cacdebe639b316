"""The processing service: keeps the processed measurements current, and recomputes history on request.

Work is split by site: every output belongs to one site, and a site belongs to one worker, chosen by a stable
hash of its municipality and name (``--shard i/n``). Workers need no coordination: each reads the registry,
keeps its own sites' watermarks in InfluxDB and writes only its own sites' points.

Each pass recomputes, per site, every interval from the start of the UTC day that holds ``watermark - late`` up
to now: the day so far is always recomputed, so uplinks that arrive late and out of order land in their
intervals at the next pass, and since points are stamped with their interval's start a recomputation overwrites
what it replaces (idempotent). Data later than that needs ``stadtpuls process backfill`` for its days.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from devices.registry import DeviceRegistry
from processing.engine import CONTEXT, FOOTFALL_MAX_GAP, Options, Site, compute_site
from processing.fleet import FLEET_EVERY, FleetReport, FleetSummary, FleetWriter
from processing.shard import Shard
from processing.store import DAY, NS, Points, ProcessingStore, Series
from stadtpuls.influx import InfluxClient, InfluxError
from stadtpuls.settings import Settings

if TYPE_CHECKING:
    from processing.anomaly_job import JobReport

log = logging.getLogger(__name__)

ANOMALY_EVERY = 600.0  # s between anomaly detection runs of the service (each re-reads weeks of history)
ANOMALY_FIRST = 86400.0  # s looked at by the first detection run after a start
EVERY_SITE = Shard()  # one worker owns every site
# the stages overlap: while one window is computed (in a thread), the next ones are read and the points of the
# previous ones written, so that InfluxDB and processing are busy at the same time
Finish = Coroutine[None, None, None]  # what writes one window's points (and its watermark)
READ_AHEAD = 2  # windows read ahead of the one being computed
WRITES_BEHIND = 2  # windows whose points may still be in flight while the next one is computed


@dataclass
class PassReport:
    """What one pass or backfill did."""

    sites: int = 0
    points: int = 0
    errors: list[str] = field(default_factory=list)
    # time spent reading, computing and writing; writes overlap the next site's read and compute, so the sum of
    # the three can exceed the wall-clock time
    seconds: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "compute": 0.0, "write": 0.0})


def load_sites(settings: Settings, shard: Shard) -> list[Site]:
    """The registered sites this worker owns, with their devices."""
    devices = DeviceRegistry(settings.registry_url).list()
    sites = []
    for (municipality, name), group in groupby(devices, key=lambda d: (d.municipality, d.site)):
        site = Site(municipality, name, tuple(group))
        if shard.owns(site.key):
            sites.append(site)
    return sites


@dataclass(frozen=True)
class Window:
    """One site's outputs to compute: the intervals in [start, end) that begin before ``horizon`` (ns)."""

    site: Site
    start: int
    end: int
    horizon: int


def day_floor(ns: int) -> int:
    """The start of the UTC day that holds ``ns``."""
    return ns - ns % DAY


class ProcessingService:
    """Computes and writes the processed measurements of the sites one worker owns."""

    def __init__(self, settings: Settings, options: Options, *, shard: Shard = EVERY_SITE, late: int = 2 * 3600 * NS,
                 first_days: int = 1, anomaly_every: float = ANOMALY_EVERY, fleet_every: float = FLEET_EVERY) -> None:
        self.settings = settings
        self.options = options
        self.shard = shard
        self.late = late
        self.first_days = first_days  # how far back a site's first pass starts
        self.anomaly_every = anomaly_every  # s between anomaly detection runs; 0: none
        self._stop = asyncio.Event()
        self._examined_until: float | None = None  # s since the epoch up to which anomalies were looked for
        self._next_detection = 0.0  # monotonic s of the next detection run
        self.fleet = FleetWriter(fleet_every)  # the fleet summaries for the dashboards (processing/fleet.py)

    def stop(self) -> None:
        """Finish the current pass and return from :meth:`run`."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the service after the current pass."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)

    def _client(self) -> InfluxClient:
        return InfluxClient.from_settings(self.settings.influx, timeout=300.0)

    async def _read(self, store: ProcessingStore, window: Window, report: PassReport) -> dict[str, list[Series]]:
        """The site's raw window (one query)."""
        began = time.perf_counter()
        site = window.site
        raw = await store.read(sorted(site.quantities()), municipality=site.municipality, site=site.site,
                               start=window.start - CONTEXT, end=window.end + FOOTFALL_MAX_GAP)
        report.seconds["read"] += time.perf_counter() - began
        return raw

    async def _compute(self, window: Window, raw: Mapping[str, list[Series]], options: Options,
                       report: PassReport) -> Points:
        """The window's points, computed in a thread so that reads and writes in flight go on meanwhile."""
        began = time.perf_counter()
        points = await asyncio.to_thread(compute_site, window.site, raw, start=window.start, end=window.end,
                                         horizon=window.horizon, options=options)
        report.seconds["compute"] += time.perf_counter() - began
        return points

    async def _write(self, store: ProcessingStore, points: Points, report: PassReport) -> int:
        began = time.perf_counter()
        written = await store.write(points)
        report.seconds["write"] += time.perf_counter() - began
        return written

    @staticmethod
    async def _watermarks(store: ProcessingStore) -> dict[tuple[str, str], int] | None:
        """Every site's watermark in one query (not a round trip per site); None when that query fails, so that
        each site asks for its own and a failure is reported per site as before.
        """
        try:
            return await store.watermarks()
        except InfluxError:
            return None

    async def _pipeline(self, store: ProcessingStore, windows: Iterable[Awaitable[Window | None]],
                        options: Options, report: PassReport, finish: Callable[[Window, Points], Finish], *,
                        skip_failed: bool = False) -> None:
        """Read, compute and finish (write) windows in order, the three stages overlapping.

        ``windows`` yields awaitables of the windows to process (None: skip); up to ``READ_AHEAD`` of them are
        awaited and read while the current window is computed, and up to ``WRITES_BEHIND`` finishes run while
        the next is computed. With ``skip_failed``, a window whose read fails is named in ``report.errors`` and
        skipped; otherwise an exception stops the pipeline after the finishes already started are done.
        """

        async def load(source: Awaitable[Window | None]) -> tuple[Window, dict[str, list[Series]]] | None:
            window = await source
            if window is None:
                return None
            try:
                return window, await self._read(store, window, report)
            except InfluxError as exc:
                if not skip_failed:
                    raise
                report.errors.append(f"{window.site.municipality}/{window.site.site}: {exc}")
                return None

        sources = iter(windows)
        reads: deque[asyncio.Task[tuple[Window, dict[str, list[Series]]] | None]] = deque()
        finishes: deque[asyncio.Task[None]] = deque()

        def read_ahead() -> None:
            while len(reads) <= READ_AHEAD:
                source = next(sources, None)
                if source is None:
                    return
                reads.append(asyncio.create_task(load(source)))

        try:
            read_ahead()
            while reads:
                loaded = await reads.popleft()
                read_ahead()
                if loaded is None:
                    continue
                window, raw = loaded
                points = await self._compute(window, raw, options, report)
                finishes.append(asyncio.create_task(finish(window, points)))
                while len(finishes) > WRITES_BEHIND:
                    await finishes.popleft()
        finally:
            for task in reads:
                task.cancel()
            await asyncio.gather(*reads, return_exceptions=True)
            outcomes = await asyncio.gather(*finishes, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def run_pass(self, now: int | None = None) -> PassReport:
        """Bring every owned site up to ``now`` (ns, default the clock).

        Sites are read, computed and written overlapping (:meth:`_pipeline`); a site's watermark follows its
        points.
        """
        now = time.time_ns() if now is None else now
        report = PassReport()
        async with self._client() as client:
            store = ProcessingStore(client)
            await store.prepare()

            marks = await self._watermarks(store)

            async def window(site: Site) -> Window | None:
                try:
                    if marks is None:
                        mark = await store.watermark(site.municipality, site.site)
                    else:
                        mark = marks.get((site.municipality, site.site))
                except InfluxError as exc:
                    report.errors.append(f"{site.municipality}/{site.site}: {exc}")
                    return None
                since = now - self.first_days * DAY if mark is None else min(mark, now) - self.late
                return Window(site, day_floor(since), now, now)

            async def finish(window: Window, points: Points) -> None:
                site = window.site
                try:
                    written = await self._write(store, points, report)  # then added: other sites' writes overlap
                except InfluxError as exc:
                    report.errors.append(f"{site.municipality}/{site.site}: {exc}")
                    return
                report.points += written
                state = Points()
                store.mark(state, site.municipality, site.site, now)
                await store.write(state)
                report.sites += 1

            sites = load_sites(self.settings, self.shard)
            await self._pipeline(store, (window(site) for site in sites), self.options, report, finish,
                                 skip_failed=True)
        return report

    async def detect_anomalies(self, now: float | None = None) -> JobReport:
        """Look for anomalies since the last run (the last ``ANOMALY_FIRST`` on the first), store the events.

        Args:
            now: seconds since the epoch (default: the clock).
        """
        from processing.anomaly_job import detect_with  # the detectors' kernels load only when detection runs

        end = time.time() if now is None else now
        start = end - ANOMALY_FIRST if self._examined_until is None else self._examined_until
        async with self._client() as client:
            report = await detect_with(client, self.settings, start=start, end=end,
                                       shard=(self.shard.index, self.shard.count))
        self._examined_until = end
        return report

    async def _maybe_detect(self) -> None:
        if not self.anomaly_every or time.monotonic() < self._next_detection:
            return
        self._next_detection = time.monotonic() + self.anomaly_every
        began = time.monotonic()
        report = await self.detect_anomalies()
        log.info("anomalies: %d sites, %d detections in %.1f s", report.sites, report.detections,
                 time.monotonic() - began)
        for error in report.errors:
            log.warning("anomalies: %s", error)

    def _fleet_summary(self) -> FleetSummary:
        return FleetSummary(self.settings.registry_url, load_sites(self.settings, self.shard),
                            unattributed=self.shard.index == 0)

    async def summarise_fleet(self, now: int | None = None) -> FleetReport:
        """Write the fleet summary of the owned sites now (``now`` in ns, default the clock)."""
        async with self._client() as client:
            return await self.fleet.run(self._fleet_summary(), client, now)

    async def _maybe_summarise(self) -> None:
        if self.fleet.due():
            try:
                report = await self.summarise_fleet()
            except SQLAlchemyError as exc:  # the registry database: the next pass tries again
                log.warning("fleet summary failed, retrying: %s", exc)
                return
            log.info("fleet: %d sites, %d open alarms, %d open anomalies, %d quarantined", report.sites,
                     report.open_alarms, report.open_anomalies, report.quarantined)

    async def run(self, *, interval: float = 30.0) -> None:
        """Run passes every ``interval`` seconds, anomaly detection every ``anomaly_every`` and the fleet summary
        every ``fleet_every``, until :meth:`stop`.
        """
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                report = await self.run_pass()
                log.info("pass: %d sites, %d points in %.1f s", report.sites, report.points,
                         time.monotonic() - began)
                for error in report.errors:
                    log.warning("pass: %s", error)
                await self._maybe_detect()
                await self._maybe_summarise()
            except InfluxError as exc:
                log.warning("pass failed, retrying: %s", exc)
            wait = max(0.0, interval - (time.monotonic() - began))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=wait)

    async def backfill(self, start: int, end: int, *, chunk_days: int = 7,
                       progress: Callable[[int], None] | None = None) -> PassReport:
        """Recompute every owned site's outputs for the UTC days from ``start`` to ``end`` (ns).

        Days are taken ``chunk_days`` at a time (each chunk reads one day of context before it), the sites and
        chunks read, computed and written overlapping (:meth:`_pipeline`); calls ``progress(n)`` after each site
        and chunk is computed with its number of site-days. Watermarks are left alone.
        """
        if chunk_days < 1:
            raise ValueError(f"chunk_days must be at least 1, got {chunk_days}")
        report = PassReport()
        options = Options(self.options.bands, self.options.pm_mean, live=False)
        now = time.time_ns()
        async with self._client() as client:
            store = ProcessingStore(client)
            await store.prepare()
            sites = load_sites(self.settings, self.shard)
            report.sites = len(sites)
            last = day_floor(end - 1) + DAY

            async def window(site: Site, first: int, stop: int) -> Window:
                return Window(site, first, stop, min(stop, now))

            def windows() -> Iterable[Awaitable[Window]]:
                for first in range(day_floor(start), last, chunk_days * DAY):
                    stop = min(first + chunk_days * DAY, last)
                    for site in sites:
                        yield window(site, first, stop)

            async def finish(window: Window, points: Points) -> None:
                if progress is not None:
                    progress((window.end - window.start) // DAY)
                written = await self._write(store, points, report)  # then added: other writes overlap
                report.points += written

            await self._pipeline(store, windows(), options, report, finish)
            report.points += await self._fleet_summary().write_quarantine(client, start=start, end=end)
        return report
