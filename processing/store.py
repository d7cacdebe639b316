"""Where processed data lives in InfluxDB, and the reads and writes of the processing service.

The stored schema is a public interface (README, "Processed data"):

* one **retention policy per resolution**: ``r1m`` (kept 90 days), ``r15m`` (2 years), ``r1h`` and ``r1d``
  (forever); raw data stays in the database's default policy;
* **rollups** keep the quantity's measurement name (``"r1h"."pm2_5"``) with the fields ``count``, ``mean``,
  ``min``, ``max``, ``last``, ``coverage`` (and ``sum`` for counts) and the raw tags ``municipality``, ``site``,
  ``class``, ``model``, ``dev_eui`` (and ``channel``); per-site rollups are ``<quantity>_site`` with the tags
  ``municipality``, ``site``, ``class``; a device's quantities are rolled up at the resolutions coarser than its
  model's reporting interval (event-driven models: coarser than a minute), and the quantities in
  :data:`NOT_ROLLED_UP` not at all;
* derived measurements: ``occupancy`` (per bay) and ``lot_occupancy`` (per lot), ``footfall`` (per counter,
  line and ``direction``) and ``footfall_site``, ``eaqi`` (per station and hour), ``air_limits`` (per station
  and day), and ``lot_availability`` (live, in the default policy);
* points are stamped with the start of their interval, so recomputing an interval overwrites its points.

All InfluxQL is built here from quoted identifiers and literals (``stadtpuls.lineprotocol``).
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from stadtpuls.influx import InfluxClient, InfluxRejected
from stadtpuls.lineprotocol import (
    escape_measurement,
    escape_tag,
    format_float,
    quote_identifier,
    quote_string,
    tag_set,
)

NS = 1_000_000_000
MINUTE = 60 * NS
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass(frozen=True)
class Resolution:
    """One rollup resolution and the retention policy that holds it."""

    name: str
    step: int  # ns
    policy: str
    duration: str  # InfluxQL duration literal of the policy
    shards: str | None = None  # time span of one shard group; None: InfluxDB's default for the duration


# shard groups of a week (InfluxDB's default beyond six months) would make a year of days or hours 53 shards
RESOLUTIONS = (
    Resolution("1m", MINUTE, "r1m", "90d"),
    Resolution("15m", 15 * MINUTE, "r15m", "730d", "4w"),
    Resolution("1h", HOUR, "r1h", "INF", "52w"),
    Resolution("1d", DAY, "r1d", "INF", "260w"),
)
BY_NAME = {r.name: r for r in RESOLUTIONS}
# raw quantities without rollups: their processed form is another measurement (the parking state → ``occupancy``,
# the running totals → ``footfall``), and a mean or maximum of a running total or of 0/1 events says nothing
NOT_ROLLED_UP = frozenset({"occupied", "people_in_total", "people_out_total"})
STATE_MEASUREMENT = "processing_state"  # the watermark of each site, in the default policy
_WATERMARK = f"SELECT last({quote_identifier('watermark')}) FROM {quote_identifier(STATE_MEASUREMENT)}"
WRITE_BATCH = 5000  # lines per /write
WRITE_CONCURRENCY = 4  # /write requests in flight (measured best of 1, 2, 4 and 8 with InfluxDB on 2 cores)
# raw windows are read without gzip: processing runs beside InfluxDB (same host or network), where compressing a
# window of hundreds of thousands of points costs InfluxDB a quarter of the query's CPU and saves no time
ANSWERS_COMPRESSED = False


@functools.cache
def _field_key(name: str) -> str:
    return escape_tag(name)


PRECISIONS = {"s": NS, "ns": 1}  # line-protocol timestamp precisions and their ns per unit


@dataclass
class Points:
    """Lines to write, grouped by retention policy ("" = the database's default).

    ``precision`` is the unit of the lines' timestamps: ``"s"`` for points stamped with an interval's start (whole
    seconds; InfluxDB parses the shorter lines faster), ``"ns"`` for any time. A time that the precision cannot
    express exactly is refused (ValueError), never rounded.
    """

    by_policy: dict[str, list[str]] = field(default_factory=dict)
    precision: str = "ns"
    _prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {self.precision!r}")
        self._unit = PRECISIONS[self.precision]

    def _stamp(self, ns: int) -> int:
        ns = int(ns)
        if ns % self._unit:
            raise ValueError(f"{ns} ns is not a whole number of {self.precision}")
        return ns // self._unit

    def add(self, policy: str, measurement: str, tags: dict[str, str], fields: dict[str, float], ns: int) -> None:
        """Queue one point; NaN fields are left out and a point without fields is not written.

        The escaped measurement and tag set of a series are built once (``stadtpuls.lineprotocol``) and reused.
        """
        text = ",".join(f"{_field_key(k)}={format_float(v)}" for k, v in fields.items() if math.isfinite(v))
        if not text:
            return
        key = (measurement, tuple(sorted(tags.items())))
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = escape_measurement(measurement) + tag_set(tags)
        self.by_policy.setdefault(policy, []).append(f"{prefix} {text} {self._stamp(ns)}")

    def add_many(self, policy: str, measurement: str, tags: dict[str, str], times: np.ndarray,
                 fields: dict[str, np.ndarray]) -> None:
        """Queue one point per timestamp of one series; ``fields`` are arrays of the same length (NaN = absent).

        Rows are grouped by which of their fields are present; each group is formatted with one ``%`` template
        (``%r`` of a Python float is its shortest round-trip text, as :func:`format_float` writes it).
        """
        n = times.size
        if n == 0:
            return
        key = (measurement, tuple(sorted(tags.items())))
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = escape_measurement(measurement) + tag_set(tags)
        labels = [_field_key(name).replace("%", "%%") for name in fields]
        values = [np.asarray(v, dtype=np.float64) for v in fields.values()]
        finite = np.isfinite(np.vstack(values))  # (fields, n)
        head = prefix.replace("%", "%%") + " "
        stamps = self._stamps(times)
        out = self.by_policy.setdefault(policy, [])
        if finite.all():
            template = head + ",".join(f"{label}=%r" for label in labels) + " %d"
            out.extend([template % row for row in zip(*(v.tolist() for v in values), stamps, strict=True)])
            return
        pattern = (finite * (1 << np.arange(len(values), dtype=np.int64))[:, None]).sum(axis=0)
        lines = np.empty(n, dtype=object)
        for code in np.unique(pattern).tolist():
            if code == 0:
                continue
            chosen = [j for j in range(len(values)) if code >> j & 1]
            template = head + ",".join(f"{labels[j]}=%r" for j in chosen) + " %d"
            rows = np.flatnonzero(pattern == code)
            columns = [values[j][rows].tolist() for j in chosen]
            lines[rows] = [template % row for row in zip(*columns, [stamps[r] for r in rows], strict=True)]
        out.extend(lines[pattern != 0].tolist())

    def _stamps(self, times: np.ndarray) -> list[int]:
        ns = times.astype(np.int64)
        if self._unit > 1 and (ns % self._unit).any():
            raise ValueError(f"times are not whole numbers of {self.precision}: {ns[ns % self._unit != 0][:3]}")
        stamps: list[int] = (ns // self._unit if self._unit > 1 else ns).tolist()
        return stamps

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_policy.values())


@dataclass(frozen=True)
class Series:
    """One raw series read back: its tags, timestamps (ns) and values."""

    tags: dict[str, str]
    times: np.ndarray
    values: np.ndarray


class ProcessingStore:
    """The processing service's view of InfluxDB: raw windows in, processed points out."""

    def __init__(self, client: InfluxClient) -> None:
        self.client = client
        self._slots = asyncio.Semaphore(WRITE_CONCURRENCY)  # shared by every write of this store

    async def prepare(self) -> None:
        """Create the database and the retention policies of the rollups (idempotent)."""
        await self.client.create_database()
        for resolution in RESOLUTIONS:
            await self.client.create_retention_policy(
                resolution.policy, duration=resolution.duration, shard_duration=resolution.shards
            )

    async def read(
        self, quantities: Sequence[str], *, municipality: str, site: str, start: int, end: int
    ) -> dict[str, list[Series]]:
        """The raw values of some quantities at one site in [start, end), in one query: quantity → one series per
        device and channel (quantities without data are left out).
        """
        if not quantities:
            return {}
        query = (
            f"SELECT {quote_identifier('value')} FROM {','.join(quote_identifier(q) for q in quantities)} "
            f"WHERE {quote_identifier('municipality')} = {quote_string(municipality)} "
            f"AND {quote_identifier('site')} = {quote_string(site)} "
            f"AND time >= {int(start)} AND time < {int(end)} "
            f"GROUP BY {quote_identifier('dev_eui')}, {quote_identifier('channel')}"
        )
        out: dict[str, list[Series]] = {}
        for series in await self.client.query(query, epoch="ns", compressed=ANSWERS_COMPRESSED):
            rows = series.get("values") or []
            times = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            values = np.fromiter((np.nan if r[1] is None else r[1] for r in rows), dtype=np.float64, count=len(rows))
            tags = {k: v for k, v in (series.get("tags") or {}).items() if v}
            out.setdefault(str(series["name"]), []).append(Series(tags, times, values))
        return dict(sorted(out.items()))

    async def watermark(self, municipality: str, site: str) -> int | None:
        """The time (ns) up to which the site's outputs are computed, None before its first pass."""
        query = (
            f"{_WATERMARK} WHERE {quote_identifier('municipality')} = {quote_string(municipality)} "
            f"AND {quote_identifier('site')} = {quote_string(site)}"
        )
        series = await self.client.query(query, epoch="ns")
        if not series or not series[0].get("values"):
            return None
        return round(float(series[0]["values"][0][1]) * NS)

    async def watermarks(self) -> dict[tuple[str, str], int]:
        """The watermark (ns) of every (municipality, site) that has one, in one query."""
        query = f"{_WATERMARK} GROUP BY {quote_identifier('municipality')}, {quote_identifier('site')}"
        out: dict[tuple[str, str], int] = {}
        for series in await self.client.query(query, epoch="ns"):
            tags = series.get("tags") or {}
            rows = series.get("values") or []
            if rows and rows[0][1] is not None and tags.get("municipality") and tags.get("site"):
                out[(tags["municipality"], tags["site"])] = round(float(rows[0][1]) * NS)
        return out

    def mark(self, points: Points, municipality: str, site: str, until: int) -> None:
        """Queue the site's new watermark (s since the epoch, stamped at itself: the latest point is the highest)."""
        points.add("", STATE_MEASUREMENT, {"municipality": municipality, "site": site},
                   {"watermark": until / NS}, until)

    async def write(self, points: Points) -> int:
        """Write every queued point in batches per policy; returns the number of lines.

        At most ``WRITE_CONCURRENCY`` requests of this store are in flight, however many writes run at once.
        """
        batches = [(policy, chunk) for policy, lines in points.by_policy.items()
                   for chunk in _chunks(lines, WRITE_BATCH)]

        async def send(policy: str, chunk: Sequence[str]) -> None:
            async with self._slots:
                await self._write(policy, chunk, points.precision)

        await asyncio.gather(*(send(policy, chunk) for policy, chunk in batches))
        return sum(len(chunk) for _, chunk in batches)

    async def _write(self, policy: str, lines: Sequence[str], precision: str) -> None:
        body = "\n".join(lines).encode()
        try:
            await self.client.write(body, retention_policy=policy, precision=precision)
        except InfluxRejected as exc:
            # history older than a policy keeps (e.g. 1-minute rollups of last year): InfluxDB drops those
            # points and writes the rest, which is what the policy asks for
            if "beyond retention policy" not in exc.message:
                raise


def _chunks(lines: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for offset in range(0, len(lines), size):
        yield lines[offset : offset + size]
