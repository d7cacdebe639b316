"""The detection job: reads raw series from InfluxDB, runs the detectors, keeps the events store current.

One call examines a window ``[start, end)`` for the sites one worker owns. Each series is read with the history
its detectors need before ``start`` (:data:`HISTORY`), so that a run over a short window judges readings
against the same past as a run over the whole period; events that end before ``start`` were the business of
earlier windows and are left out. Storing is idempotent (see :mod:`processing.events`), so a window may be
examined again, overlapping windows are fine, and a condition that goes on across windows stays one event.

What is examined, per device, from the catalog (``devices/catalog.py``) and the quantity ranges
(``stadtpuls/schema.py``):

* every device: silence in the ``uplink`` measurement beyond :data:`GAP_FACTOR` report intervals (or
  :data:`HEARTBEAT_FACTOR` heartbeat intervals for devices that report on change) is a ``gap``; frame
  counters that restart are a ``restart`` only for devices with cumulative counters whose totals are not
  read (where they are, a falling total tells a reset from a re-join); a high share of lost frames is
  ``packet_loss``;
* measured quantities (:data:`LEVEL_QUANTITIES`) of devices reporting at least hourly: out of range, stuck,
  spikes (short, and back to normal afterwards) and drift (of daily medians); no spike or drift test for the
  weather (:data:`WEATHER`); CO2 is compared with the same time of the week (:data:`WEEKLY`) instead of the
  spike test, and with the highest readings of its usual days before (:func:`beyond_own_range`); PM1.0
  and PM2.5 drift is judged against PM10 of the same device where it has one, NO2 drift against NO and CO of
  the same device as well (:func:`gas_drift_events`); PM2.5 above PM10 of the same device is ``impossible``;
* counts (:data:`COUNT_QUANTITIES`): out of range, deviations from the hour of the week at the day's level of
  activity (unless the site's other counters departed alike: :func:`shared_by_site`) and counters stuck at
  zero in busy hours (hours its earlier weeks counted, or the site's other counters counted, at the counter's
  usual share of them: :func:`silent_at_site`), and hours far above that share (``spike``, also where no
  earlier week is usual: :func:`above_at_site`); public and school holidays (``excluded_days``) and days of
  known events that bring people (``event_days``) stay out of the baselines, and explain what they do at the
  site's other counters in the same hour (:func:`site_factor`): a holiday within a factor two either way,
  an event only counts above the week, up to twice its lift there; days the shops are shut
  (``closed_days``) do not stand in for usual weeks; the days come from the town's calendar
  (:func:`town_context`);
  cumulative totals (:data:`TOTAL_QUANTITIES`) that fall back are a ``counter_reset``;
* bay states (:data:`STATE_QUANTITIES`): a state frozen far longer than the bay's own history, while the
  site's other bays kept changing;
* drift, once every site is examined (:func:`confirm_drifts`): kept only where the station's daily medians
  also drifted, the same way, against the town's other stations of the quantity, over the days the drift
  built up moved away from them far beyond the usual day-to-day spread of that ratio, and moved beyond what
  the town's level and weather (temperature, air pressure) explain of that ratio
  (:func:`departure_from_weather`); a room's kept CO2 drift takes in its departures from its week during the
  drift (:func:`without_drifts_departures`). The daily medians are InfluxDB's, of days with most of their readings
  (:data:`FULL_DAY_SHARE`), the drifting station's without the days its frozen or out-of-range readings took
  (:func:`without_explained_days`).

Work is split by site like the processing service: a site belongs to worker ``i`` of ``n`` by a stable CRC-32
of its municipality and name.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from devices.catalog import DeviceModel, models
from devices.records import DeviceInfo
from devices.registry import DeviceRegistry
from processing import detect as det
from processing.events import Detection, EventStore, SeriesKey, UpsertReport
from processing.kernels import anomaly
from stadtpuls.calendar import load_calendar
from stadtpuls.influx import InfluxClient, InfluxError
from stadtpuls.lineprotocol import quote_identifier, quote_string
from stadtpuls.schema import QUANTITIES, UPLINK_MEASUREMENT
from stadtpuls.settings import Settings

log = logging.getLogger(__name__)

NS = 1_000_000_000
DAY = 86400.0
LEVEL_QUANTITIES = (
    "pm1_0", "pm2_5", "pm10", "no2", "no", "o3", "co", "co2", "temperature", "humidity", "pressure",
)
COUNT_QUANTITIES = ("people_in", "people_out")
TOTAL_QUANTITIES = ("people_in_total", "people_out_total")  # cumulative: a fall is a counter reset
STATE_QUANTITIES = ("occupied",)
PAIRS = (("pm2_5", "pm10", ("PM2.5", "PM10")), ("pm1_0", "pm2_5", ("PM1.0", "PM2.5")))
HISTORY = {"level": 28 * DAY, "count": 42 * DAY, "state": 28 * DAY, "uplink": 7 * DAY, "total": 7 * DAY}
GAP_FACTOR = 6.0  # report intervals of silence before a periodic device is offline
HEARTBEAT_FACTOR = 2.5  # heartbeat intervals of silence before a device that reports on change is offline
# (one lost heartbeat is routine for a bay sensor under a car)
READ_SPAN = 7 * DAY  # one query reads at most this much of a site's quantity
PAIR_TOLERANCE = 1.0  # µg/m³ an optical counter may put PM2.5 above PM10 from rounding and noise
MAX_LEVEL_INTERVAL = 3600  # s: level detectors need readings at least this often
SATURATION = {"humidity": 98.0}  # %: a value held at or above this is saturated air (fog), not a frozen sensor
WEATHER = frozenset({"temperature", "humidity", "pressure"})  # no drift or spike test: weather, heating
# drift judged against a co-located larger size fraction where the device measures one (pm10 is then the
# reference and has no drift test of its own); alone, against its own past
REFERENCED = {"pm1_0": "pm10", "pm2_5": "pm10"}
PARTICLES = frozenset({"pm1_0", "pm2_5", "pm10"})
PARTICLE_NAMES = {"pm1_0": "PM1.0", "pm2_5": "PM2.5", "pm10": "PM10"}
# a gas judged for drift against the station's other traffic gases as well: exhaust brings NO2, NO and CO together,
# and the wind and inversions that move a road's NO2 by half from day to day move them alike, while a drifting
# NO2 cell moves alone
GAS_PARTNERS = {"no2": ("no", "co")}
GAS_NAMES = {"no2": "NO2", "no": "NO", "co": "CO"}
COLOCATED = frozenset(GAS_PARTNERS) | {q for partners in GAS_PARTNERS.values() for q in partners}
GAS_LOG_OFFSET = 0.05  # share of a gas's median added before its log: clean air near zero does not make it jump
GAS_MIN_SPREAD = 1e-3  # log units: the fit's residual spread is taken as at least this (0.1 %)
WEEKLY = frozenset({"co2"})  # compared with the same time of the week instead of a trailing window (a drift
# shows there too, and in the daily medians: the empty room at night, outdoor air plus the sensor's offset)
# a holiday on which a room's busiest readings (the day's 90th percentile) reach two thirds of its usual
# working days' (the median over at least 3 of them) is a usual day for that room (see :func:`held_as_usual`)
ROOM_BUSY_QUANTILE = 0.9
ROOM_USUAL_SHARE = 2 / 3
ROOM_USUAL_DAYS = 3
SITE_SHARED = 2.0  # a count within this factor of its site's other counters' departure from their week is the site's
SITE_WEEKS = 6  # earlier weeks a span is compared with
SITE_MIN_COUNT = 20.0  # fewest counts the earlier weeks must show for a ratio
SHARE_MIN_DAYS = 3  # days that give a counter's usual share of its site's other counters at an hour of the day
# a counter's hour at this many times its usual share of what its site's other counters count, and this many
# Poisson standard deviations above it, is a spike (:func:`above_at_site`); a market lifts one street of a site
# by half, the Christmas market's evenings the whole site
SITE_SPIKE_FACTOR = 4.0
SITE_SPIKE_SIGMAS = 6.0
# a room's CO2 at this many times the high quantile of its readings over the days before is a spike, weeks or
# no weeks (:func:`beyond_own_range`): a full classroom reaches 1,500 ppm most days, never 3,000
ROOM_RANGE_FACTOR = 2.0
ROOM_RANGE_QUANTILE = 0.99
ROOM_RANGE_DAYS = 28
ROOM_RANGE_MIN_DAYS = 7
COUNT_SPAN_PAD = 300.0  # s around an event's readings, so that counters reporting at other phases are included
WEEK = 7 * DAY
IDLE_SHARE = 0.1  # a frozen bay is not stuck while this share of its site's bays stood unchanged as long
IDLE_CHANCE = 0.01  # a frozen bay is not stuck while this many of its lot's bays would stand as long by chance
OCCUPANCY_STEP = 1800.0  # s: the lot's occupancy is sampled this often to judge a frozen bay
OCCUPANCY_QUANTILE = 0.5  # of the lot's occupancy whenever the bay was taken (freed): its usual level
OCCUPANCY_MIN_SAMPLES = 3  # times the bay was taken (freed) in its history that the level needs
# a drift is the sensor's when, over the days it built up, its ratio to the town's other stations departed from
# the ratio's usual level by at least this many of the ratio's usual (robust) day-to-day standard deviations
DRIFT_SIGNIFICANCE = 3.0
EACH_SIGNIFICANCE = 2.0  # and against each other station alone, over the same days, at least this many
# a station's ratio to the town moves with the weather where its sources differ from the town's: a ring road's
# exhaust against the town's heating rises in share when the heating stops or calm air under a high traps the
# exhaust. A weather spell passes within a day or two, a sensor's drift stays; so a drift must also depart from
# what the town's level, temperature and air pressure explain of the ratio, over the days it built up and the two
# after, by at least this many spreads of what they leave unexplained (:func:`departure_from_weather`)
WEATHER_SIGNIFICANCE = 1.0
WEATHER_DAYS_AFTER = 2
# a day enters the daily drift test, and a station's ratio to the town, with this share of its fullest day's
# readings: a six-hour outage leaves a drifting day its median, a run's first night hours are no day
FULL_DAY_SHARE = 0.5
# a day on which a station's readings were frozen or out of range for this share of the day or more stays out of
# its ratio to the town: its median is the fault's, not the air's
EXPLAINED_DAY_SHARE = 0.25
# a slot of the week is judged from two earlier weeks when a holiday or the town's festival took the third (the
# counter's own spread, not the two readings' difference, then carries the judgement)
WEEKLY_MIN_WEEKS = 2
EXPLAINED = frozenset({"stuck", "spike", "out_of_range"})  # readings these explain stay out of daily medians
# the detectors' parameters: spikes are short, rise from and return to within half the threshold (a classroom
# filling with CO2, an evening's slow rise of particles that crosses the threshold at its top are no spikes); a count
# deviates from its hour of the week by six robust standard deviations; a value held at a sensor's floor (its
# lowest 5 % of readings: NO at night in coarse steps) is judged against how long it holds values there
LEVEL = replace(det.LEVEL, spike_threshold=14.0, spike_max_duration=3600.0, spike_must_return=True,
                spike_return_share=0.5, stuck_floor_quantile=0.05)
WEEKLY_SETTINGS = replace(det.COUNT, seasonal_threshold=6.0, seasonal_min_weeks=WEEKLY_MIN_WEEKS)
# counts are compared with their hour of the week at the day's level of activity (the last 3 h): a fine Saturday
# is busy all day in every street, a broken counter is wrong on its own
COUNT = replace(WEEKLY_SETTINGS, seasonal_level_window=3 * 3600.0, seasonal_own_window=14 * DAY)
DAILY_WITHIN_SHARE = 0.25  # the daily medians' spread is at least this share of the usual spread within a day
# daily medians: a two-week reference, a week to warm up; a day counts at most 4 standard deviations, so that
# one day far off (a jam on the ring road, a frozen morning value) is no drift: it takes two days to raise one
DAILY = replace(det.LEVEL, drift_window=14 * DAY, drift_lag=2 * DAY, warmup=7 * DAY, min_history=7,
                drift_slack=1.5, drift_threshold=3.0, drift_cap=4.0)


Times = npt.NDArray[np.float64]
Factor = Callable[[Times], Times]  # reading times (s) → a factor at each


@dataclass
class JobReport:
    """What one detection run did."""

    sites: int = 0
    devices: int = 0
    series: int = 0
    detections: int = 0
    stored: UpsertReport = field(default_factory=UpsertReport)
    errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "detect": 0.0, "store": 0.0})
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Raw:
    """One series read back: device, channel, times (s) and values."""

    dev_eui: str
    channel: str
    times: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]


def owns(municipality: str, site: str, shard: tuple[int, int]) -> bool:
    """Whether worker ``shard[0]`` of ``shard[1]`` owns the site (the processing service's rule)."""
    index, count = shard
    return zlib.crc32(f"{municipality}\x1f{site}".encode()) % count == index


def check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    """The shard if valid.

    Raises:
        ValueError: unless ``0 <= i < n``.
    """
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard}")
    return shard


def seconds(moment: datetime | float) -> float:
    """Seconds since the epoch of an aware datetime (naive means UTC) or a number of seconds."""
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return float(moment)


async def read_site(
    client: InfluxClient, measurement: str, field_name: str, municipality: str, site: str, start: float, end: float
) -> list[Raw]:
    """One measurement's field at one site in ``[start, end)``, one series per device and channel."""
    parts: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    begin = start
    while begin < end:
        stop = min(begin + READ_SPAN, end)
        # every name and literal below goes through stadtpuls.lineprotocol quoting; the times are integers
        query = (
            f"SELECT {quote_identifier(field_name)} FROM {quote_identifier(measurement)} "
            f"WHERE {quote_identifier('municipality')} = {quote_string(municipality)} "
            f"AND {quote_identifier('site')} = {quote_string(site)} "
            f"AND time >= {int(begin * NS)} AND time < {int(stop * NS)} "
            f"GROUP BY {quote_identifier('dev_eui')}, {quote_identifier('channel')}"
        )
        for series in await client.query(query, epoch="ns"):
            tags = series.get("tags") or {}
            times, values = parts.setdefault((str(tags.get("dev_eui", "")), str(tags.get("channel", ""))), ([], []))
            for row in series.get("values") or []:
                times.append(row[0] / NS)
                values.append(np.nan if row[1] is None else float(row[1]))
        begin = stop
    return [
        Raw(dev_eui, channel, np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64))
        for (dev_eui, channel), (times, values) in sorted(parts.items())
        if dev_eui
    ]


def expected_interval(model: DeviceModel) -> tuple[float, float] | None:
    """The interval a device is heard at and the multiple of it that is an outage; None when unknown."""
    if model.report_interval > 0:
        return float(model.report_interval), GAP_FACTOR
    if model.heartbeat_interval > 0:
        return float(model.heartbeat_interval), HEARTBEAT_FACTOR
    return None


@dataclass(frozen=True)
class Context:
    """What every detector of one run shares."""

    start: float
    end: float
    excluded_days: Collection[date]
    timezone: str | None
    event_days: Collection[date] = ()
    closed_days: Collection[date] = ()  # days the shops are shut for all or part of the day


def keep(events: Sequence[det.Event], last: float, context: Context) -> list[det.Event]:
    """The events that reach into the window, marked open when they last until the latest reading."""
    return [replace(e, open=e.end >= last) for e in events if e.end >= context.start]


def uplink_events(
    raw: Raw, model: DeviceModel | None, context: Context, *, totals_read: bool = False
) -> list[det.Event]:
    """Gaps, restarts and packet loss of one device from its received uplinks (times and frame counters).

    A restart is reported only for devices with cumulative counters whose totals were not read
    (``totals_read``): where they are, :func:`total_events` tells a reset counter from a re-join that kept it.
    """
    order = np.argsort(raw.times, kind="stable")
    times, frames = raw.times[order], raw.values[order]
    present = ~np.isnan(frames)
    events: list[det.Event] = []
    rhythm = expected_interval(model) if model is not None else None
    if rhythm is not None and times.size:
        interval, factor = rhythm
        series = det.prepare(times, np.zeros(times.size), interval=interval, name="uplinks", unit="")
        events += det.gap_events(series, replace(det.LEVEL, gap_factor=factor), now=context.end)
    if present.sum() > 1:
        counters = np.clip(frames[present], 0, 2**32 - 1).astype(np.int64)
        found = det.detect_packet_loss(times[present], counters)
        # a restart matters where it resets cumulative counters; elsewhere it is routine
        counting = model is not None and any(QUANTITIES[q].cumulative for q in model.quantities) and not totals_read
        events += [e for e in found if e.kind != "restart" or counting]
    last = float(times[-1]) if times.size else context.end
    # a gap that ends at a reading is over (the device was heard again); an open one ends at the window's end
    kept = keep(det.merge_events(events), last, context)
    return [replace(e, open=e.end > last) if e.kind == "gap" else e for e in kept]


def level_findings(raw: Raw, quantity: str, model: DeviceModel | None) -> list[det.Event]:
    """Out of range, stuck values and spikes of a measured quantity over all of its readings (no drift: see
    :func:`level_events`; no gaps: they come from the uplinks); none for readings too sparse for rolling
    statistics (a bay's daily temperature), no spikes for the weather and CO2, no frozen saturated air.
    """
    if model is None or not 0 < model.report_interval <= MAX_LEVEL_INTERVAL:
        return []
    known = QUANTITIES[quantity]
    events = det.detect(raw.times, raw.values, kind="level", name=quantity, unit=known.unit, low=known.low,
                        high=known.high, interval=float(model.report_interval), settings=LEVEL)
    dropped = {"gap", "drift"} | ({"spike"} if quantity in WEATHER | WEEKLY else set())
    return [e for e in events if e.kind not in dropped and not saturated(e, raw, quantity)]


def level_events(
    raw: Raw, quantity: str, model: DeviceModel | None, context: Context, *, findings: list[det.Event] | None = None
) -> list[det.Event]:
    """Out of range, stuck, spikes and drift of a measured quantity (gaps come from the uplinks).

    Drift is judged on daily medians of the readings no other finding explains (:func:`daily_drift_events`,
    :func:`explained_out`), and not at all for the weather (:data:`WEATHER`): a long-term median cannot tell a
    warm week from a drifting sensor. ``findings`` are those of :func:`level_findings` when already known.
    """
    if model is None or not 0 < model.report_interval <= MAX_LEVEL_INTERVAL:
        return []  # readings too sparse (a bay's daily temperature) for rolling statistics
    events = level_findings(raw, quantity, model) if findings is None else list(findings)
    # particles: particle_drift_events; a room's CO2 too: its daily median is the empty room's night, outdoor
    # air to which a sensor's offset adds, whether or not the room has usual weeks to compare its lessons with
    if quantity not in WEATHER | PARTICLES:
        events += daily_drift_events(explained_out(raw, events), quantity)
    if quantity in WEEKLY:
        weekly = weekly_events(raw, quantity, model, context)
        events += weekly + [e for e in beyond_own_range(raw, quantity, context)
                            if not any(w.start <= e.end and w.end >= e.start for w in weekly)]
    return keep(det.merge_events(events), float(np.nanmax(raw.times)), context)


def explained_out(raw: Raw, events: Sequence[det.Event]) -> Raw:
    """The series without the readings that a stuck value, a spike or an out-of-range value explains (NaN):
    a morning's value frozen all day is not the day's air, and its daily median would start a drift.
    """
    values = raw.values.copy()
    for event in events:
        if event.kind in EXPLAINED:
            values[(raw.times >= event.began) & (raw.times <= event.end)] = np.nan
    return Raw(raw.dev_eui, raw.channel, raw.times, values)


def saturated(event: det.Event, raw: Raw, quantity: str) -> bool:
    """Whether a stuck value is the air's saturation, not the sensor's: relative humidity held at its top
    (:data:`SATURATION`) through a night of fog or rain is what every station of the town reads then.
    """
    top = SATURATION.get(quantity)
    if event.kind != "stuck" or top is None:
        return False
    at = raw.values[(raw.times >= event.began) & (raw.times <= event.end)]
    return bool(at.size) and bool(np.nanmin(at) >= top)


def weekly_events(raw: Raw, quantity: str, model: DeviceModel, context: Context) -> list[det.Event]:
    """Readings far from the same time of the week in earlier weeks, for quantities that follow the people in
    a room (CO2 rises in every lesson; a trailing window would call each lesson a spike).

    Holidays (``excluded_days``) stay out of the baseline and explain emptier rooms, never fuller ones: a
    reading below its week is not judged on them, one above it is, as on any day (a classroom in the school
    holidays holds nobody). A holiday on which the room held as many people as on its usual working days (an
    office working through the school holidays) is a usual day for it (:func:`held_as_usual`). The days of
    events in the streets (``event_days``) do not fill a classroom or an office and are judged as any day.
    """
    series = det.prepare(raw.times, raw.values, interval=float(model.report_interval), name=quantity,
                         unit=QUANTITIES[quantity].unit)
    if series.times.size == 0:
        return []
    local = det.local_times(series.times, context.timezone)
    excluded = det.excluded_mask(local, context.excluded_days)
    excluded &= ~held_as_usual(series.values, local, excluded)
    emptier = (np.zeros(series.times.size), np.ones(series.times.size))
    found = det.seasonal_events(series, WEEKLY_SETTINGS, excluded, local=local, zone=context.timezone,
                                holiday=emptier)
    return [e for e in found if e.kind == "seasonal"]


def readings(raw: Raw) -> tuple[Times, Times]:
    """A series' times and values in time order, without the missing readings."""
    present = ~np.isnan(raw.values)
    order = np.argsort(raw.times[present], kind="stable")
    return raw.times[present][order], raw.values[present][order]


def beyond_own_range(raw: Raw, quantity: str, context: Context) -> list[det.Event]:
    """Readings far above anything the room reached before: ``spike``, with or without usual weeks.

    A room's CO2 is judged against its week (:func:`weekly_events`), which needs earlier weeks of the same
    slot; after holidays a classroom has none. What a room can reach is still known: each reading is compared
    with the :data:`ROOM_RANGE_QUANTILE` of the room's readings over the :data:`ROOM_RANGE_DAYS` days before its
    day, holidays left out (an empty classroom says nothing of a full one; at least :data:`ROOM_RANGE_MIN_DAYS`
    days with readings), and one at :data:`ROOM_RANGE_FACTOR` times that or more is reported, on any day;
    consecutive ones are one event.
    """
    times, values = readings(raw)
    if times.size == 0:
        return []
    local = det.local_times(times, context.timezone)
    days = np.floor(local / DAY).astype(np.int64)
    usual = ~det.excluded_mask(local, context.excluded_days)
    ceiling = np.full(times.size, np.nan)
    for day in np.unique(days).tolist():
        before = (days >= day - ROOM_RANGE_DAYS) & (days < day) & usual
        if np.unique(days[before]).size >= ROOM_RANGE_MIN_DAYS:
            ceiling[days == day] = np.quantile(values[before], ROOM_RANGE_QUANTILE)
    high = np.isfinite(ceiling) & (values >= ROOM_RANGE_FACTOR * np.where(np.isfinite(ceiling), ceiling, 0.0))
    unit = QUANTITIES[quantity].unit
    events = []
    for first, last in det.stretches(high):
        worst = first + int(np.argmax(values[first : last + 1]))
        reason = (f"{quantity} {det.whole(values[worst])} {unit} at {det.when(times[worst])}, "
                  f"{values[worst] / ceiling[worst]:.1f} times the {100 * ROOM_RANGE_QUANTILE:g}th percentile of "
                  f"its readings over the {ROOM_RANGE_DAYS} days before ({det.whole(ceiling[worst])} {unit})")
        events.append(det.Event(float(times[first]), float(times[last]), "spike",
                                float(values[worst] / ceiling[worst]) / ROOM_RANGE_FACTOR, reason))
    return events


def held_as_usual(values: Times, local: Times, holidays: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Readings on holidays (Monday to Friday) on which the room held as many people as on its usual working
    days: its busiest readings (the day's :data:`ROOM_BUSY_QUANTILE`) reached at least :data:`ROOM_USUAL_SHARE`
    of the median of the usual working days' (of at least :data:`ROOM_USUAL_DAYS` of them).

    The town's holidays include its school holidays, which empty a classroom and leave an office or a library
    as on any day; for a room that works through them they are usual days, compared with and part of its weeks.
    ``values`` and ``local`` (wall-clock seconds) are one series' readings; ``holidays`` marks those on the
    town's holidays.
    """
    days = np.floor(local / DAY).astype(np.int64)
    workday = weekdays(days) < 5
    busiest = {}
    for day in np.unique(days[workday]).tolist():
        readings = values[days == day]
        if np.isfinite(readings).any():
            busiest[day] = float(np.nanquantile(readings, ROOM_BUSY_QUANTILE))
    usual = [busiest[day] for day in np.unique(days[workday & ~holidays]).tolist() if day in busiest]
    held = np.zeros(values.size, dtype=np.bool_)
    if len(usual) < ROOM_USUAL_DAYS:
        return held
    bar = ROOM_USUAL_SHARE * float(np.median(usual))
    for day in np.unique(days[workday & holidays]).tolist():
        if busiest.get(day, -math.inf) >= bar:
            held |= days == day
    return held


def particle_drift_events(
    raw: Raw, quantity: str, by_series: dict[tuple[str, str, str], Raw], where: tuple[str, str]
) -> list[det.Event]:
    """Drift of a particle fraction: against PM10 of the same device if it has one, else against its own past;
    PM10 beside a smaller fraction is the reference and gets no test of its own.
    """
    dev_eui, channel = where
    partner = REFERENCED.get(quantity, "")
    reference = by_series.get((dev_eui, partner, channel)) if partner else None
    if reference is not None:
        return reference_drift_events(raw, reference, quantity, partner)
    if quantity == "pm10" and any((dev_eui, q, channel) in by_series for q in REFERENCED):
        return []
    return daily_drift_events(raw, quantity)


def reference_drift_events(raw: Raw, reference: Raw, quantity: str, partner: str) -> list[det.Event]:
    """Drift of a particle fraction against a larger one of the same optical counter: weather, heating and
    traffic move both in proportion, a drifting channel moves alone. Judged on daily medians of the smaller
    fraction's share of the larger (each plus :data:`PAIR_TOLERANCE`, the counter's noise, so that clean air
    near zero does not make the share jump): a smoky winter week doubles both fractions and leaves the share,
    while their difference would double with them.
    """
    common, left, right = np.intersect1d(raw.times, reference.times, return_indices=True)
    if common.size == 0:
        return []
    share = (raw.values[left] + PAIR_TOLERANCE) / (np.maximum(reference.values[right], 0.0) + PAIR_TOLERANCE)
    label = f"{PARTICLE_NAMES[quantity]}'s share of {PARTICLE_NAMES[partner]} of the same station"
    return daily_drift_events(Raw(raw.dev_eui, raw.channel, common, share), quantity, label=label, unit="")


def gas_drift_events(
    raw: Raw, quantity: str, by_series: dict[tuple[str, str, str], Raw], where: tuple[str, str]
) -> list[det.Event]:
    """Drift of a gas against the station's other traffic gases, where it measures them all (else none: its
    own past is judged in :func:`level_events`).
    """
    dev_eui, channel = where
    partners = [by_series.get((dev_eui, q, channel)) for q in GAS_PARTNERS[quantity]]
    known = [p for p in partners if p is not None]
    return colocated_drift_events(raw, known, quantity) if len(known) == len(partners) else []


def colocated_drift_events(raw: Raw, partners: Sequence[Raw], quantity: str) -> list[det.Event]:
    """Drift of a gas against the station's other traffic gases (:data:`GAS_PARTNERS`), on daily medians.

    Each day's log median is compared with what the partners' log medians predict by a least-squares fit over
    the :data:`DAILY` window ``drift_lag`` before it (at least ``min_history`` days); the fit's residuals there
    give its spread (robust, scaled by sqrt(n / (n - p)) for its ``p`` coefficients). A CUSUM over the day's
    residual in those spreads finds the drift (:func:`processing.detect.drift_events`): a road's NO2 that varies
    by half from day to day with the wind varies by a tenth against its NO and CO, so a drifting cell that stays
    within the road's usual range against its own past stands out here. Only days with most of their readings
    in every series count (:data:`FULL_DAY_SHARE`); each series is taken by the log of its value plus
    :data:`GAS_LOG_OFFSET` of its median.
    """
    series = [daily_medians(r) for r in (raw, *partners)]
    days = sorted(set.intersection(*(set(s) for s in series)))
    if len(days) < DAILY.min_history + 3:
        return []
    columns = []
    for medians in series:
        values = np.array([medians[day] for day in days])
        columns.append(np.log(np.maximum(values, 0.0) + GAS_LOG_OFFSET * max(float(np.median(values)), 1e-9)))
    own, design = columns[0], np.column_stack([np.ones(len(days)), *columns[1:]])
    residual, spread = colocated_residuals(np.asarray(days), own, design)
    times = (np.asarray(days, dtype=np.float64) + 1) * DAY - 1
    usable = np.isfinite(residual)
    if usable.sum() < 3:
        return []
    partners_named = " and ".join(GAS_NAMES.get(q, q) for q in GAS_PARTNERS.get(quantity, ()))
    test = det.Series(times[usable], residual[usable], DAY, f"daily median of {quantity}", "")
    settings = replace(DAILY, drift_lag=0.0)  # the fit already ends drift_lag before each day
    events = det.drift_events(test, settings, np.zeros(test.values.size), spread[usable])
    return [colocated_reason(e, test, spread[usable], partners_named) for e in events]


def daily_medians(raw: Raw) -> dict[int, float]:
    """Day number → median of the day's readings, for days with most of their readings (:data:`FULL_DAY_SHARE`)."""
    days, parts = full_day_readings(raw)
    return {int(day): float(np.median(part)) for day, part in zip(days, parts, strict=True)}


def full_day_readings(raw: Raw) -> tuple[npt.NDArray[np.int64], list[Times]]:
    """The day numbers (UTC) with at least :data:`FULL_DAY_SHARE` of the fullest day's readings, ascending, and
    each one's readings (no NaN).
    """
    times, values = readings(raw)
    if times.size == 0:
        return np.empty(0, dtype=np.int64), []
    days = np.floor(times / DAY).astype(np.int64)
    edges = np.flatnonzero(np.diff(days)) + 1
    counts = np.diff(np.concatenate(([0], edges, [times.size])))
    full = np.flatnonzero(counts >= FULL_DAY_SHARE * counts.max())
    parts = np.split(values, edges)
    return np.unique(days)[full], [parts[i] for i in full]


def colocated_residuals(
    days: npt.NDArray[np.int64], own: Times, design: npt.NDArray[np.float64]
) -> tuple[Times, Times]:
    """Each day's residual against a fit over the :data:`DAILY` window ``drift_lag`` before it, and that fit's
    spread (NaN where the window holds fewer than ``min_history`` days); see :func:`colocated_drift_events`.
    """
    residual, spread = np.full(days.size, np.nan), np.full(days.size, np.nan)
    lag, window = round(DAILY.drift_lag / DAY), round(DAILY.drift_window / DAY)
    unknowns = design.shape[1]
    for i, day in enumerate(days):
        rows = np.flatnonzero((days <= day - lag) & (days > day - lag - window))
        if rows.size < max(DAILY.min_history, unknowns + 2):
            continue
        coefficients, *_ = np.linalg.lstsq(design[rows], own[rows], rcond=None)
        fitted = own[rows] - design[rows] @ coefficients
        mad = det.MAD_TO_SIGMA * float(np.median(np.abs(fitted - np.median(fitted))))
        spread[i] = max(mad * math.sqrt(rows.size / (rows.size - unknowns)), GAS_MIN_SPREAD)
        residual[i] = own[i] - float(design[i] @ coefficients)
    return residual, spread


def colocated_reason(event: det.Event, test: det.Series, spread: Times, partners: str) -> det.Event:
    """The event with a reason in percent of what the station's other gases (``partners``, named) predict."""
    inside = (test.times >= event.began) & (test.times <= event.end)
    shift = float(np.mean(test.values[inside]))
    usual = float(np.median(spread[inside]))
    direction = "upward" if "drifting upward" in event.reason else "downward"
    reason = (f"{test.name} drifting {direction} against {partners} of the same station since about "
              f"{det.when(event.began)}: on average {100 * abs(math.expm1(shift)):.0f} % "
              f"{'above' if shift > 0 else 'below'} what they predict by their relation over the "
              f"{det.duration(DAILY.drift_window)} up to {det.duration(DAILY.drift_lag)} before (which it usually "
              f"keeps within ±{100 * math.expm1(usual):.0f} %)")
    return replace(event, reason=reason)


def daily_drift_events(raw: Raw, quantity: str, *, label: str = "", unit: str | None = None) -> list[det.Event]:
    """A CUSUM over daily medians against their own long-term median: a slow drift shows over days, while
    the daily cycle (rush hours, lessons) and single readings do not count. ``label`` and ``unit`` name what
    the values are when they are not the quantity itself.
    """
    days, parts = full_day_readings(raw)  # days with most of their readings
    if days.size < 3:
        return []
    medians = np.array([float(np.median(part)) for part in parts])
    within = np.array([float(np.median(np.abs(part - np.median(part)))) for part in parts]) * det.MAD_TO_SIGMA
    day_ends = ((days + 1) * DAY - 1).astype(np.float64)
    name = f"daily median of {label or quantity}"
    series = det.Series(day_ends, medians, DAY, name, QUANTITIES[quantity].unit if unit is None else unit)
    median, spread = det.long_term(series, DAILY)
    # day-to-day medians of a quiet indoor night can agree within a few ppm; a drift is judged against the
    # variation the sensor shows within its usual day as well
    usual_within, _ = det.rolling(np.ascontiguousarray(within), 14, 7)
    spread = np.fmax(spread, DAILY_WITHIN_SHARE * usual_within)
    return det.drift_events(series, DAILY, median, spread)


def count_events(
    raw: Raw, quantity: str, model: DeviceModel | None, context: Context, *, neighbours: Sequence[Raw] = ()
) -> list[det.Event]:
    """Out of range, seasonal deviations and counters stuck at zero of a count.

    On the days of known events a count above its week is excused up to the lift the event shows at the
    site's other counters of the quantity (``neighbours``) in the same hour (:func:`site_factor`), within the
    factor :data:`SITE_SHARED` that makes any departure the site's (:func:`shared_by_site`; an hour's lift is
    coarse where the event changes within it, at its evening or its closing), or up to the plain bound of
    :data:`COUNT` where none of them shows it. A counter silent while the others count plenty is ``stuck``
    even without earlier weeks of its own (:func:`silent_at_site`).
    """
    known = QUANTITIES[quantity]
    interval = float(model.report_interval) if model is not None and model.report_interval > 0 else None
    measured = site_factor(raw, neighbours, context) if context.event_days or context.excluded_days else None
    lift, holiday = site_ranges(measured) if measured is not None else (None, None)
    events = det.detect(raw.times, raw.values, kind="count", name=quantity.replace("_", " "), low=known.low,
                        high=known.high, interval=interval, settings=COUNT, excluded_days=context.excluded_days,
                        event_days=context.event_days, timezone=context.timezone, event_lift=lift,
                        holiday_range=holiday, closed_days=context.closed_days)
    events = with_silent_at_site(events, silent_at_site(raw, neighbours, context))
    events = with_above_at_site(events, above_at_site(raw, neighbours, context, quantity.replace("_", " ")))
    return keep([e for e in events if e.kind != "gap"], float(np.nanmax(raw.times)), context)


def other_counters(raw: Raw, neighbours: Sequence[Raw]) -> list[Raw]:
    """The site's other counters of the quantity that have readings (``neighbours`` without ``raw``)."""
    return [n for n in neighbours if n.dev_eui != raw.dev_eui and n.times.size]


def local_hours(times: npt.NDArray[np.float64], zone: str | None) -> npt.NDArray[np.int64]:
    """The town's wall-clock hour of each time, counted from the epoch (hour bins that follow local days)."""
    hours: npt.NDArray[np.int64] = np.floor(det.local_times(times, zone) / det.HOUR).astype(np.int64)
    return hours


def silent_at_site(raw: Raw, neighbours: Sequence[Raw], context: Context) -> list[det.Event]:
    """A counter that counts nobody while the site's other counters of the quantity count plenty: ``stuck``.

    Needs no weeks of the counter's own history at the same hour of the week (a slot whose earlier weeks were
    holidays or a market has no baseline), only its usual share of what the others count at that hour of the
    day: the median, over the days of its history (at least :data:`SHARE_MIN_DAYS`, excluded days left out,
    the others counting at least :data:`SITE_MIN_COUNT` in the hour), of its hour's sum over theirs, for the
    kind of day (weekday, Saturday, Sunday) where that kind has enough days (:func:`usual_shares`). A
    stretch of zeros (three readings or more) during which those shares of the others' counts reach
    ``busy_total`` counts (zero then has a Poisson chance below e⁻³⁰) is reported from the moment they do.
    Where the others count nothing too (night, the site closed) nothing is expected. Excluded days (public and
    school holidays) teach no share, as in the weekly rule, but are judged like any day: a holiday that quiets
    the site quiets the others as well, and what they count at the same time is what is expected of this one.
    """
    others = other_counters(raw, neighbours)
    if not others:
        return []
    times, values = readings(raw)
    their_times = np.concatenate([n.times[~np.isnan(n.values)] for n in others])
    their_values = np.concatenate([n.values[~np.isnan(n.values)] for n in others])
    ranked = np.argsort(their_times, kind="stable")
    their_times, their_values = their_times[ranked], their_values[ranked]
    if times.size < 3 or their_times.size == 0:
        return []
    zone = context.timezone
    hours = site_hours(times, values, their_times, their_values, context)
    first, share, kinds = hours.first, hours.share, hours.kinds
    hour_of = local_hours(their_times, zone) - first
    weighted = share[kinds[hour_of // 24], hour_of % 24] * their_values
    running = np.concatenate(([0.0], np.cumsum(weighted)))
    counted_total = np.concatenate(([0.0], np.cumsum(their_values)))
    starts = np.empty(values.size, dtype=np.int64)
    ends = np.empty(values.size, dtype=np.int64)
    runs = anomaly.constant_runs(np.ascontiguousarray(values, dtype=np.float64), 0.0, starts, ends)
    found = []
    for begin, last in zip(starts[:runs].tolist(), ends[:runs].tolist(), strict=True):
        if values[begin] != 0 or last - begin < 2:
            continue
        lo = int(np.searchsorted(their_times, times[begin], side="left"))
        hi = int(np.searchsorted(their_times, times[last], side="right"))
        expected = running[lo + 1 : hi + 1] - running[lo]
        if expected.size == 0 or expected[-1] < COUNT.busy_total:
            continue
        reached = float(their_times[lo + int(np.searchsorted(expected, COUNT.busy_total))])
        detected = min(int(np.searchsorted(times, reached, side="left")), last)
        local = det.local_times(np.array([times[begin], times[last]]), zone)
        day = datetime.fromtimestamp(float(local[0]), UTC)
        reason = (
            f"counted nobody {det.clock(local[0] % DAY)}-{det.clock(local[1] % DAY)}"
            f"{f' ({zone} time)' if zone else ' UTC'} on {day:%Y-%m-%d} while the site's other counters counted "
            f"{det.whole(counted_total[hi] - counted_total[lo])}; at its usual share of theirs at these hours it "
            f"would have counted about {det.whole(expected[-1])}"
        )
        found.append(det.Event(float(times[detected]), float(times[last]), "stuck",
                               float(expected[-1]) / COUNT.busy_total, reason, onset=float(times[begin])))
    return found


def above_at_site(raw: Raw, neighbours: Sequence[Raw], context: Context, name: str) -> list[det.Event]:
    """Hours in which a counter counted far more than its usual share of what each of the site's other counters
    of the quantity counted (:func:`site_hours`): ``spike``.

    Needs no earlier weeks at the same hour of the week: where every earlier week was a Christmas market week
    or a holiday, the weekly rule has nothing to compare with, while the site's other counters say how busy
    the hour was. Each other counter that counted at least :data:`SITE_MIN_COUNT` in the hour gives an
    expected count (the counter's usual share of that one's count), and the median of them is taken: a
    neighbour that went silent gives none, one that spiked in the same hour is outvoted. An hour is reported
    where its count reached :data:`SITE_SPIKE_FACTOR` times that and stood :data:`SITE_SPIKE_SIGMAS` Poisson
    standard deviations above it; hours expected to count fewer than :data:`SITE_MIN_COUNT` (a night) are not
    judged. Consecutive hours are one event.
    """
    times, values = readings(raw)
    if times.size == 0:
        return []
    expectations = []
    hours = None
    for other in other_counters(raw, neighbours):
        # within the counter's own span, so that every neighbour gives the same days and hours
        heard = ~np.isnan(other.values) & (other.times >= times[0]) & (other.times <= times[-1])
        if not heard.any():
            continue
        hours = site_hours(times, values, other.times[heard], other.values[heard], context)
        theirs = hours.share[hours.kinds] * hours.theirs
        theirs[~(hours.seen & (hours.theirs >= SITE_MIN_COUNT) & (theirs > 0))] = np.nan
        expectations.append(theirs)
    if not expectations or hours is None:
        return []
    stacked = np.stack(expectations)
    known = np.isfinite(stacked).any(axis=0)
    expected = np.full(known.shape, np.nan)
    expected[known] = np.nanmedian(stacked[:, known], axis=0)
    known &= expected >= SITE_MIN_COUNT
    usual = np.where(known, expected, 1.0)
    sigmas = (hours.own - usual) / np.sqrt(np.maximum(usual, 1.0))
    high = known & (hours.own >= SITE_SPIKE_FACTOR * usual) & (sigmas >= SITE_SPIKE_SIGMAS)
    own_hour = local_hours(times, context.timezone) - hours.first
    events = []
    for first, last in det.stretches(high.ravel(), bridge=0):
        inside = np.flatnonzero((own_hour >= first) & (own_hour <= last))
        ratio = hours.own.ravel()[first : last + 1] / usual.ravel()[first : last + 1]
        worst = first + int(np.argmax(ratio))
        own, most = float(hours.own.ravel()[worst]), float(usual.ravel()[worst])
        moment = datetime.fromtimestamp((hours.first + worst) * det.HOUR, UTC)
        reason = (
            f"{name} {det.whole(own)} in the hour from {moment:%Y-%m-%d %H:%M}"
            f"{f' ({context.timezone} time)' if context.timezone else ' UTC'}; at its usual share of what the "
            f"site's other counters counted then it would have counted about {det.whole(most)}"
        )
        events.append(det.Event(float(times[inside[0]]), float(times[inside[-1]]), "spike",
                                own / most / SITE_SPIKE_FACTOR, reason))
    return events


def with_above_at_site(events: list[det.Event], above: list[det.Event]) -> list[det.Event]:
    """One event per condition: an hour far above the counter's share of its site that the weekly rule already
    reports (a ``seasonal`` departure it overlaps) is that event.
    """
    kept = [a for a in above if not any(e.kind == "seasonal" and e.start <= a.end and e.end >= a.start
                                        for e in events)]
    return det.merge_events(events + kept) if kept else events


@dataclass(frozen=True)
class SiteHours:
    """A counter's and its site's other counters' counts per local hour (rows: days from local midnight of
    hour ``first``), and the counter's usual share of theirs for each kind of day and hour (:func:`usual_shares`).
    """

    first: int  # local hour (counted from the epoch) of the first row's midnight
    own: npt.NDArray[np.float64]  # shape (days, 24)
    seen: npt.NDArray[np.bool_]  # shape (days, 24): the counter reported in the hour
    theirs: npt.NDArray[np.float64]  # shape (days, 24), holidays included
    share: npt.NDArray[np.float64]  # shape (3, 24)
    kinds: npt.NDArray[np.int64]  # shape (days,): weekday (0), Saturday (1), Sunday (2)


def site_hours(times: Times, values: Times, their_times: Times, their_values: Times, context: Context) -> SiteHours:
    """Hourly sums of a counter (its readings, NaN-free) and of its site's other counters, and its usual share
    of theirs. Excluded days (holidays) teach no share, but are judged: the others' counts at the same time
    already say how busy the site is on them.
    """
    own_hours = local_hours(times, context.timezone)
    their_local = det.local_times(their_times, context.timezone)
    their_hours = np.floor(their_local / det.HOUR).astype(np.int64)
    learned = np.where(det.excluded_mask(their_local, context.excluded_days), 0.0, their_values)
    first = int(min(own_hours.min(), their_hours.min()))
    first -= first % 24  # local midnight
    size = (int(max(own_hours.max(), their_hours.max())) - first) // 24 * 24 + 24
    own_sum = np.bincount(own_hours - first, weights=values, minlength=size).reshape(-1, 24)
    own_seen = (np.bincount(own_hours - first, minlength=size) > 0).reshape(-1, 24)
    their_sum = np.bincount(their_hours - first, weights=learned, minlength=size).reshape(-1, 24)
    usable = own_seen & (their_sum >= SITE_MIN_COUNT)
    ratios = np.where(usable, own_sum / np.where(usable, their_sum, 1.0), np.nan)
    kinds = day_kinds(first // 24, ratios.shape[0])
    theirs = np.bincount(their_hours - first, weights=their_values, minlength=size).reshape(-1, 24)
    return SiteHours(first, np.asarray(own_sum, dtype=np.float64), own_seen, np.asarray(theirs, dtype=np.float64),
                     usual_shares(ratios, usable, kinds), kinds)


def weekdays(days: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The weekday (Monday 0 to Sunday 6) of day numbers since the epoch (a Thursday)."""
    weekday: npt.NDArray[np.int64] = (days + 3) % 7
    return weekday


def day_kinds(first_day: int, days: int) -> npt.NDArray[np.int64]:
    """Monday to Friday (0), Saturday (1) or Sunday (2) of each of ``days`` days from day ``first_day`` since
    the epoch.
    """
    kinds: npt.NDArray[np.int64] = np.clip(weekdays(np.arange(first_day, first_day + days)) - 4, 0, 2)
    return kinds


def usual_shares(
    ratios: npt.NDArray[np.float64], usable: npt.NDArray[np.bool_], kinds: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """A counter's usual share of its site's other counters at each hour, for each kind of day (shape (3, 24)):
    the median of its days of that kind where at least :data:`SHARE_MIN_DAYS` are known, else of all its days
    (0 where even those are too few). A shop door shut on Sundays counts nobody then while the street does.
    """
    overall = np.zeros(24)
    known = np.count_nonzero(usable, axis=0) >= SHARE_MIN_DAYS
    overall[known] = np.nanmedian(ratios[:, known], axis=0)
    shares = np.tile(overall, (3, 1))
    for kind in range(3):
        rows = kinds == kind
        enough = np.count_nonzero(usable[rows], axis=0) >= SHARE_MIN_DAYS
        if enough.any():
            shares[kind, enough] = np.nanmedian(ratios[rows][:, enough], axis=0)
    return shares


def with_silent_at_site(events: list[det.Event], silent: list[det.Event]) -> list[det.Event]:
    """One event per condition: a counter silent at its busy site is one ``stuck`` event with any stuck event
    of the weekly rule it overlaps, and its deviations from its week during the silence are part of it.
    """
    if not silent:
        return events
    kept = [e for e in events if e.kind != "seasonal" or not any(
        e.start <= s.end and e.end >= s.began for s in silent)]
    return det.merge_events(kept + silent)


def total_events(totals: Sequence[tuple[str, Raw]], context: Context) -> list[det.Event]:
    """Resets of a device's cumulative counters (each line's totals in and out): one event per reset.

    Args:
        totals: (quantity, series) of every cumulative counter of one device.
        context: the run's window.
    """
    events: list[det.Event] = []
    last = context.start
    for quantity, raw in totals:
        order = np.argsort(raw.times, kind="stable")
        name = quantity.replace("_", " ") + (f" (line {raw.channel})" if raw.channel else "")
        events += det.detect_counter_resets(raw.times[order], raw.values[order], name=name)
        last = max(last, float(np.nanmax(raw.times)))
    return keep(det.merge_events(events), last, context)


def site_factor(raw: Raw, neighbours: Sequence[Raw], context: Context) -> Factor | None:
    """How much the day lifts (an event) or lowers (a holiday) the site's other counters, hour by hour.

    For each wall-clock hour of the town, every other counter (``neighbours`` without ``raw``) is compared
    with itself: its sum in that hour against the median of its sums in the same hour of up to
    :data:`SITE_WEEKS` earlier weeks that were usual days (no holiday, no event; at least
    :data:`WEEKLY_MIN_WEEKS` of them, and at least :data:`SITE_MIN_COUNT` counts in their median). The lift is
    the median of these ratios over the other counters: a market that fills the streets lifts them all, a
    fault lifts one (the median ignores it even when it strikes a neighbour too). A counter that counted
    nothing in the hour is silent, not a measure of the crowd, and is left out (so a holiday that closes the
    whole site has no factor, and nothing on it is judged against one).

    Returns:
        A function from reading times (s) to the factor at each (NaN where no other counter shows it), or
        None without other counters.
    """
    others = other_counters(raw, neighbours)
    if not others:
        return None
    zone = context.timezone
    local = [(local_hours(n.times, zone), n.values) for n in others]
    first = min(int(hours.min()) for hours, _ in local)
    count = max(int(hours.max()) for hours, _ in local) - first + 1
    unusual = det.excluded_mask((first + np.arange(count, dtype=np.float64)) * det.HOUR,
                                set(context.excluded_days) | set(context.event_days))
    week = int(WEEK // det.HOUR)
    ratios = np.full((len(others), count), np.nan)
    for row, (hours, values) in enumerate(local):
        present = ~np.isnan(values)
        index = hours[present] - first
        seen = np.bincount(index, minlength=count) > 0
        sums = np.where(seen, np.bincount(index, weights=values[present], minlength=count), np.nan)
        usual = np.where(unusual, np.nan, sums)
        earlier = np.full((SITE_WEEKS, count), np.nan)
        for k in range(1, SITE_WEEKS + 1):
            if k * week < count:
                earlier[k - 1, k * week :] = usual[: count - k * week]
        enough = np.isfinite(earlier).sum(axis=0) >= WEEKLY_MIN_WEEKS
        typical = np.full(count, np.nan)
        typical[enough] = np.nanmedian(earlier[:, enough], axis=0)
        # a counter that counted nothing where its weeks counted is silent (a fault): it measures no event
        good = enough & (typical >= SITE_MIN_COUNT) & seen & (sums > 0)
        ratios[row, good] = sums[good] / typical[good]
    shown = np.isfinite(ratios).any(axis=0)
    lift = np.full(count, np.nan)
    lift[shown] = np.nanmedian(ratios[:, shown], axis=0)

    def at(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        index = local_hours(np.asarray(times, dtype=np.float64), zone) - first
        inside = (index >= 0) & (index < count)
        out = np.full(index.size, np.nan)
        out[inside] = lift[index[inside]]
        return out

    return at


def site_ranges(measured: Factor) -> tuple[Factor, Callable[[Times], tuple[Times, Times]]]:
    """What a day explains at a counter, from what it does at the site's other counters (``measured``, see
    :func:`site_factor`) within the factor :data:`SITE_SHARED`: an event's lift (more people, up to twice its
    lift there) and a holiday's range (half to twice its factor there, either way).
    """
    def lift(times: Times) -> Times:
        return SITE_SHARED * measured(times)

    def holiday(times: Times) -> tuple[Times, Times]:
        factor = measured(times)
        return factor / SITE_SHARED, factor * SITE_SHARED

    return lift, holiday


def week_ratio(raw: Raw, start: float, end: float) -> float | None:
    """A series' sum over ``[start, end]`` against the median of its sums over the same span 1-6 weeks
    earlier; None without enough of either.
    """
    def total(begin: float, stop: float) -> float | None:
        inside = (raw.times >= begin) & (raw.times <= stop) & ~np.isnan(raw.values)
        return float(raw.values[inside].sum()) if inside.any() else None

    now = total(start, end)
    earlier = [t for k in range(1, SITE_WEEKS + 1) if (t := total(start - k * WEEK, end - k * WEEK)) is not None]
    if now is None or len(earlier) < 3:
        return None
    usual = float(np.median(earlier))
    return now / usual if usual >= SITE_MIN_COUNT else None


def shared_by_site(event: det.Event, raw: Raw, neighbours: Sequence[Raw]) -> bool:
    """Whether a count's departure from its week is one the site's other counters share at the same time
    (a crowd in the square, rain in the street), rather than the counter's own.

    The counter's ratio to the same span of earlier weeks is compared with the median ratio of the site's
    other counters of the quantity; within a factor :data:`SITE_SHARED` of each other, the site had the day.
    """
    span = (event.start - COUNT_SPAN_PAD, event.end + COUNT_SPAN_PAD)
    own = week_ratio(raw, *span)
    others = [r for n in neighbours if n.dev_eui != raw.dev_eui and (r := week_ratio(n, *span)) is not None]
    if own is None or not others:
        return False
    site = float(np.median(others))
    if own <= 0 or site <= 0:
        return own == site
    return bool(abs(math.log(own / site)) <= math.log(SITE_SHARED))


def state_events(
    raw: Raw, quantity: str, model: DeviceModel | None, context: Context, *, neighbours: Sequence[Raw] = ()
) -> list[det.Event]:
    """A bay state frozen far longer than the bay's own history says is normal, while the bays around it
    kept changing.

    A bay of a lot that stood idle (an outdoor pool's car park in a cold week) is not stuck: a frozen state is
    reported only when fewer than :data:`IDLE_SHARE` of the site's other bays (``neighbours``) also stayed
    unchanged from its onset to its detection. A bay that changed state too rarely before it froze to say what
    is usual for it is reported only if its lot's history says that standing unchanged as long is unusual
    (:func:`lot_idle_as_long`).
    """
    rhythm = expected_interval(model) if model is not None else None
    series = det.prepare(raw.times, raw.values, interval=rhythm[0] if rhythm else None, name=quantity, unit="")
    if series.times.size < 2:
        return []
    events = det.stuck_events(series, det.LEVEL)
    others = [changes(n) for n in neighbours if n.dev_eui != raw.dev_eui and n.times.size > 1]
    lot = [n for n in neighbours if n.dev_eui != raw.dev_eui and n.times.size > 0]
    kept = []
    _, _, own_changes = changes(raw)
    for event in events:
        idle = idle_share(others, event.began, event.start)
        if idle >= IDLE_SHARE:
            continue
        unknown = np.searchsorted(own_changes, event.began, "left") < OCCUPANCY_MIN_SAMPLES
        if unknown and lot_idle_as_long(others, event):
            continue  # too few changes of its own before it froze to tell: its lot's bays can
        share = f"; {100 * (1 - idle):.0f} % of the site's other bays changed state meanwhile" if others else ""
        busy = lot_busy_enough(raw, lot, event)
        chance = idle_by_chance(raw, others, event)
        if busy is None or (chance is not None and chance >= IDLE_CHANCE):
            continue
        odds = f"; bays of this lot stay unused this long by chance about {chance:.1g} times" if chance else ""
        kept.append(replace(event, reason=event.reason + share + busy + odds))
    return keep(kept, float(series.times[-1]), context)


def lot_idle_as_long(others: Sequence[tuple[float, float, npt.NDArray[np.float64]]], event: det.Event) -> bool:
    """Whether idling as long as a frozen bay had at its detection may be usual in its lot: another bay stood
    unchanged as long at some time before the detection, or the lot's history before the bay froze is
    shorter than that (nothing says it is unusual).

    For a bay that froze after fewer than :data:`OCCUPANCY_MIN_SAMPLES` changes of its own since it was first
    heard: its own history cannot say what is usual for it, and a lot whose far bays stand unused for days makes
    a long idle stretch usual.
    """
    needed = float(event.start) - float(event.began)
    heard = [o for o in others if o[0] < o[1]]
    if not heard or min(first for first, _, _ in heard) > float(event.began) - needed:
        return True
    for first, last, changed in heard:
        until = min(last, float(event.start))
        moments = np.concatenate(([first], changed[changed <= until], [until]))
        if moments.size > 1 and float(np.diff(moments).max()) >= needed:
            return True
    return False


def idle_by_chance(
    raw: Raw, others: Sequence[tuple[float, float, npt.NDArray[np.float64]]], event: det.Event
) -> float | None:
    """How many of the lot's bays would stay unchanged as long as a frozen bay did, by chance.

    The bay's share of the lot's changes in its history (at most an average bay's), applied to the lot's
    changes while it stood frozen, is the number of changes it should have seen (a quiet lot in a cold week has
    few). Half of those changes would have ended the frozen state (an arrival at a free bay, a departure from
    an occupied one); by Poisson, the chance of none is ``exp(-expected / 2)``, times the lot's bays. None when
    the history cannot tell.
    """
    began, detected = float(event.began), float(event.start)
    order = np.argsort(raw.times, kind="stable")
    present = ~np.isnan(raw.values[order])
    times, values = raw.times[order][present], raw.values[order][present]
    if times.size == 0:
        return None
    first = float(times[0])
    own = int(np.count_nonzero(np.diff(values[times < began]) != 0))
    heard = [(f, changed) for f, last, changed in others if f <= first and last >= detected]
    if not heard or own == 0:
        return None
    before = sum(int(np.searchsorted(c, began, "left") - np.searchsorted(c, first, "right")) for _, c in heard)
    during = sum(int(np.searchsorted(c, detected, "right") - np.searchsorted(c, began, "left")) for _, c in heard)
    if before <= 0:
        return None
    # the bay's own rate or the lot's average per bay, whichever is lower (a bay used more than its lot in
    # one month is no sure sign it will be the next), scaled by how busy the lot was meanwhile
    expected = min(own, before / len(heard)) * during / before
    return (len(heard) + 1) * math.exp(-expected / 2)  # half the changes would have ended the frozen state


def state_at(raw: Raw, grid: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A bay's state at each grid time: its last reading at or before it (NaN before its first)."""
    order = np.argsort(raw.times, kind="stable")
    times, values = raw.times[order], raw.values[order]
    index = np.searchsorted(times, grid, "right") - 1
    out = np.where(index >= 0, values[np.maximum(index, 0)], np.nan)
    return np.asarray(out, dtype=np.float64)


def lot_busy_enough(raw: Raw, lot: Sequence[Raw], event: det.Event) -> str | None:
    """Whether the lot's occupancy while a bay stood frozen makes its state unusual, as a reason's tail.

    A bay is taken once its lot is full enough (the far end of a car park only on busy days) and freed once it
    empties. From the bay's own history, the lot's occupancy at which the bay is normally in the other state is
    known (the median of the lot's occupancy at the moments the bay was taken, or freed); a bay frozen free is
    stuck only if the lot was at least that full meanwhile, one frozen occupied only if the lot was at most
    that empty. None when the lot never got there (the bay was simply not needed); an
    empty string when the lot's history cannot tell (too few readings of the bay or the lot).
    """
    if not lot:
        return ""
    began = float(event.began)
    grid = np.arange(float(np.nanmin(raw.times)) + OCCUPANCY_STEP, float(event.start) + 1.0, OCCUPANCY_STEP)
    states = np.array([state_at(n, grid) for n in lot])
    heard = (~np.isnan(states)).sum(axis=0)
    occupancy = np.where(heard > 0, np.nansum(states, axis=0) / np.maximum(heard, 1), np.nan)
    own = state_at(raw, grid)
    frozen = float(state_at(raw, np.array([began]))[0])
    before, during = grid < began, grid >= began
    # the moments the bay changed to the other state: the lot's occupancy when it is usually taken (freed)
    switched = np.zeros(grid.size, dtype=bool)
    switched[1:] = (own[1:] == 1.0 - frozen) & (own[:-1] == frozen)
    history = occupancy[before & switched & ~np.isnan(occupancy)]
    meanwhile = occupancy[during & ~np.isnan(occupancy)]
    if history.size < OCCUPANCY_MIN_SAMPLES or meanwhile.size == 0:
        return ""
    if frozen == 0.0:  # frozen free: was the lot as full as when this bay is normally taken?
        level, extreme = float(np.quantile(history, OCCUPANCY_QUANTILE)), float(meanwhile.max())
        if extreme < level:
            return None
        return (f"; the lot was up to {100 * extreme:.0f} % full meanwhile, and this bay is normally taken "
                f"once it is {100 * level:.0f} % full")
    level, extreme = float(np.quantile(history, 1.0 - OCCUPANCY_QUANTILE)), float(meanwhile.min())
    if extreme > level:
        return None
    return (f"; the lot was down to {100 * extreme:.0f} % full meanwhile, and this bay is normally free "
            f"once it is {100 * level:.0f} % full")


def changes(raw: Raw) -> tuple[float, float, npt.NDArray[np.float64]]:
    """A bay's first and last reading and the times its state changed."""
    order = np.argsort(raw.times, kind="stable")
    times, values = raw.times[order], raw.values[order]
    present = ~np.isnan(values)
    times, values = times[present], values[present]
    if times.size == 0:
        return (np.inf, -np.inf, times)
    return (float(times[0]), float(times[-1]), times[1:][np.diff(values) != 0])


def idle_share(others: Sequence[tuple[float, float, npt.NDArray[np.float64]]], begin: float, end: float) -> float:
    """Share of the bays (heard before ``begin`` and after ``end``) whose state did not change in between."""
    idle = heard = 0
    for first, last, changed in others:
        if first > begin or last < end:
            continue
        heard += 1
        idle += int(np.searchsorted(changed, end, "right") == np.searchsorted(changed, begin, "right"))
    return idle / heard if heard else 0.0


def pair_events(first: Raw, second: Raw, names: tuple[str, str], context: Context) -> list[det.Event]:
    """Readings where the smaller size fraction exceeds the larger one at the same time."""
    common, left, right = np.intersect1d(first.times, second.times, assume_unique=False, return_indices=True)
    if common.size == 0:
        return []
    events = det.detect_pair(common, first.values[left], second.values[right], names=names,
                             tolerance=PAIR_TOLERANCE)
    return keep(events, float(common[-1]), context)


async def read_daily_medians(
    client: InfluxClient, quantity: str, municipality: str, start: float, end: float
) -> dict[tuple[str, str], dict[int, float]]:
    """Daily medians (UTC days) of one quantity at every station of a municipality: (dev_eui, channel) → day
    number → median, of the days with most of their readings (:func:`full_days`).
    """
    value = quote_identifier("value")
    query = (
        f"SELECT median({value}), count({value}) FROM {quote_identifier(quantity)} "
        f"WHERE {quote_identifier('municipality')} = {quote_string(municipality)} "
        f"AND time >= {int(start // DAY * DAY) * NS} AND time < {int(end) * NS} "
        f"GROUP BY time(1d), {quote_identifier('dev_eui')}, {quote_identifier('channel')}"
    )
    out: dict[tuple[str, str], dict[int, float]] = {}
    for series in await client.query(query, epoch="ns"):
        tags = series.get("tags") or {}
        days = out.setdefault((str(tags.get("dev_eui", "")), str(tags.get("channel", ""))), {})
        days.update(full_days(series.get("values") or []))
    return out


def full_days(rows: Sequence[Sequence[Any]]) -> dict[int, float]:
    """Day number → median of InfluxDB's daily rows (time in ns, median, count) of one station, for the days
    with at least :data:`FULL_DAY_SHARE` of its fullest day's readings: the first day of a run or of a station
    holds a few night hours, a day of a long outage a part of the day, and their medians are not the day's.
    """
    counted = [(int(row[0] // NS // DAY), float(row[1]), float(row[2] or 0)) for row in rows if row[1] is not None]
    fullest = max((count for _, _, count in counted), default=0.0)
    return {day: median for day, median, count in counted if count >= FULL_DAY_SHARE * fullest}


def without_explained_days(days: dict[int, float], drift: Detection, found: Sequence[Detection]) -> dict[int, float]:
    """A drifting station's daily medians (day number → median) without the days on which its own events of a
    kind that explains readings (stuck, spike, out of range: :data:`EXPLAINED`) covered at least
    :data:`EXPLAINED_DAY_SHARE` of the day: a sensor frozen for half a day at a rush hour's value moves that
    day's median by the fault, not by the air. An event covers the day from its onset (a frozen value's first
    reading, not the hour the test recognised it). The other stations keep theirs: without one of them on a
    day, the town's median would be another station's level.
    """
    spans = [(e.onset, e.end) for e in found if e.kind in EXPLAINED and e.series == drift.series]
    return {
        day: median for day, median in days.items()
        if sum(max(0.0, min(end, (day + 1) * DAY) - max(start, day * DAY)) for start, end in spans)
        < EXPLAINED_DAY_SHARE * DAY
    }


def town_ratio(
    own: dict[int, float], others: Sequence[dict[int, float]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Day ends and the log ratio of a station's daily medians to the median of the town's other stations.

    Days on which the station or none of the others has a median are left out; a small offset (a tenth of the
    values' median) keeps the logarithm of readings near zero finite.
    """
    days, mine, town, offset = town_levels(own, others)
    if not days:
        return np.empty(0), np.empty(0)
    ratio = np.log(np.maximum(mine, 0.0) + offset) - np.log(np.maximum(town, 0.0) + offset)
    return (np.array(days, dtype=np.float64) + 1) * DAY - 1, ratio


def town_levels(
    own: dict[int, float], others: Sequence[dict[int, float]]
) -> tuple[list[int], npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """The days both the station and some other station have, the station's and the others' median daily
    medians on them, and the offset that keeps their logarithms finite (see :func:`town_ratio`).
    """
    days = sorted(d for d in own if any(d in other for other in others))
    if not days:
        return [], np.empty(0), np.empty(0), 1.0
    mine = np.array([own[d] for d in days])
    town = np.array([float(np.median([o[d] for o in others if d in o])) for d in days])
    offset = 0.1 * max(float(np.median(np.abs(np.concatenate((mine, town))))), 1e-9)
    return days, mine, town, offset


def town_weather(
    times: npt.NDArray[np.float64], own: dict[int, float], others: Sequence[dict[int, float]],
    weather: Sequence[dict[int, float]] = (),
) -> npt.NDArray[np.float64]:
    """Shape (n, 1 + k): on each day of a station's ratio to the town (``times`` from :func:`town_ratio`), the
    log of the town's level (the others' median, offset as in the ratio) and each of the town's ``k`` daily
    weather series (day number → value: its temperature, its air pressure; NaN where unknown).
    """
    days, _, town, offset = town_levels(own, others)
    columns = [np.log(np.maximum(town, 0.0) + offset)]
    columns += [np.array([series.get(day, math.nan) for day in days], dtype=np.float64) for series in weather]
    table = np.column_stack(columns) if days else np.empty((0, len(columns)))
    if table.shape[0] != times.size:
        raise ValueError("the weather and the ratio must cover the same days")
    return table


def confirmed_drift(drift: Detection, ratio_events: Sequence[det.Event]) -> Detection | None:
    """A drift found against the station's own past, if its ratio to the town's other stations drifted too,
    the same way and at the same time; it then began when both had begun (the first such ratio drift).
    """
    return next(iter(confirmations(drift, ratio_events)), None)


def confirmations(drift: Detection, ratio_events: Sequence[det.Event]) -> list[Detection]:
    """The drift as each ratio drift that confirms it would have it (see :func:`confirmed_drift`), in order: a
    station's own drift may span a smoky week and a sensor's drift after it, while its ratio to the town
    drifted only in the second.
    """
    upward = "drifting upward" in drift.reason
    found = []
    for event in ratio_events:
        same_way = ("drifting upward" in event.reason) == upward
        if same_way and event.began <= drift.end and event.end >= drift.onset:
            onset = max(drift.onset, event.began)
            start = max(drift.start, event.start, onset)
            reason = f"{drift.reason}; also against the town's other stations of {drift.quantity}"
            found.append(replace(drift, onset=onset, start=min(start, drift.end), reason=reason))
    return found


async def confirm_drifts(
    client: InfluxClient, found: list[Detection], start: float, end: float, report: JobReport
) -> list[Detection]:
    """Keep a drift only where it also shows against the town's (the municipality's) other stations of the
    same quantity (:func:`judged_drift`).

    Weather, season and holidays move every station of a town alike, roughly in proportion; a drifting sensor
    moves alone, by an offset. So a drift found against a station's own past (or a co-located fraction) must
    also show in the log ratio of its daily medians to the median of the other stations measuring the
    quantity. Where a station's sources differ from the others', that ratio follows the weather, so the town's
    daily temperature (the median over the stations of the quantity that measure it) and air pressure (see
    :func:`town_pressure`) are read as well. Days the station's own frozen or out-of-range readings took stay
    out (:func:`without_explained_days`). Where a quantity has no other station, the drift stands as found.
    """
    drifts = [d for d in found if d.kind == "drift" and d.quantity in LEVEL_QUANTITIES]
    if not drifts:
        return found
    kept = [d for d in found if d.kind != "drift" or d.quantity not in LEVEL_QUANTITIES]
    weathers: dict[str, dict[str, dict[tuple[str, str], dict[int, float]]]] = {}  # one read per municipality
    for municipality, quantity in sorted({(d.municipality, d.quantity) for d in drifts}):
        group = [d for d in drifts if (d.municipality, d.quantity) == (municipality, quantity)]
        try:
            medians = await read_daily_medians(client, quantity, municipality, start - HISTORY["level"], end)
        except InfluxError as exc:
            report.errors.append(f"daily medians of {quantity} in {municipality}: {exc}")
            kept += group
            continue
        if municipality not in weathers:
            weathers[municipality] = await read_weather(client, municipality, start, end, report)
        weather = town_weather_series(weathers[municipality], {key[0] for key in medians})
        for drift in group:
            others = [days for key, days in medians.items() if key[0] != drift.dev_eui]
            own = without_explained_days(medians.get((drift.dev_eui, drift.channel)) or {}, drift, found)
            judged = judged_drift(drift, own, others, weather)
            if judged is not None:
                kept.append(judged)
    return kept


def without_drifts_departures(found: list[Detection]) -> list[Detection]:
    """One event per condition: a room whose CO2 sensor drifts departs from its week for as long as it drifts,
    and the drift (kept once confirmed against the town) says why; its series' ``seasonal`` events within the
    drift's days are part of it.
    """
    drifts = [d for d in found if d.kind == "drift" and d.quantity in WEEKLY]
    return [e for e in found if e.kind != "seasonal" or not any(
        d.series == e.series and e.start <= d.end and e.end >= d.onset for d in drifts)]


async def read_weather(
    client: InfluxClient, municipality: str, start: float, end: float, report: JobReport
) -> dict[str, dict[tuple[str, str], dict[int, float]]]:
    """Daily median temperatures and air pressures of every station of a municipality (quantity → see
    :func:`read_daily_medians`); a quantity InfluxDB cannot tell is empty (the error is reported).
    """
    out = {}
    for quantity in ("temperature", "pressure"):
        try:
            out[quantity] = await read_daily_medians(client, quantity, municipality, start - HISTORY["level"], end)
        except InfluxError as exc:
            report.errors.append(f"daily {quantity} in {municipality}: {exc}")
            out[quantity] = {}
    return out


def town_weather_series(
    weather: dict[str, dict[tuple[str, str], dict[int, float]]], stations: Collection[str]
) -> list[dict[int, float]]:
    """The town's daily weather series that a ratio is fitted on (see :func:`town_weather`), of those that are
    known: its temperature where the ``stations`` of a quantity measure it (:func:`town_temperature`), its air
    pressure from all of its stations (:func:`town_pressure`).
    """
    temperature = town_temperature([days for key, days in weather.get("temperature", {}).items()
                                    if key[0] in stations])
    pressure = town_pressure(list(weather.get("pressure", {}).values()))
    return [series for series in (temperature, pressure) if series]


def town_temperature(stations: Sequence[dict[int, float]]) -> dict[int, float]:
    """The median of the stations' daily median temperatures, per day (day number → °C): one station whose
    thermometer is off moves it little.
    """
    days = sorted({day for station in stations for day in station})
    return {day: float(np.median([s[day] for s in stations if day in s])) for day in days}


def town_pressure(stations: Sequence[dict[int, float]]) -> dict[int, float]:
    """The town's air pressure per day (day number → hPa above or below its usual): the median over the
    stations of each one's daily median less its own median, so that stations at other heights (8 m is 1 hPa)
    agree, and a day one of them is missing does not move it.

    High pressure brings calm air, which the town does not measure: the exhaust at a road then stays near the
    ground and its station's share of the town's level rises.
    """
    usual = [float(np.median(list(station.values()))) if station else 0.0 for station in stations]
    return town_temperature([{day: value - base for day, value in station.items()}
                             for station, base in zip(stations, usual, strict=True)])


def judged_drift(
    drift: Detection, own: dict[int, float], others: Sequence[dict[int, float]],
    weather: Sequence[dict[int, float]] = (),
) -> Detection | None:
    """A drift found against the station's own past, judged against the town's other stations (daily medians:
    day number → median) and the town's daily weather (:func:`town_weather_series`); None when it is the
    town's or the weather's, not the station's.

    It is kept when the log ratio of the station to the median of the others drifted too, the same way at the
    same time (:func:`confirmations`), against each other station alone (:func:`against_each`), when over
    the days it built up its ratio to the town departed significantly (:func:`departure_from_town`), and when
    the town's level and weather do not explain that departure (:func:`departure_from_weather`); of
    several such ratio drifts, the first that passes. It stands as found where the days cannot tell (no other
    station, fewer than three common days); the weather is left out where the days cannot fit it, and where
    the town has no weather series the fit is on its level alone.
    """
    if not others or not own:
        return drift
    times, ratio = town_ratio(own, others)
    if times.size < 3:
        return drift
    table = town_weather(times, own, others, weather)
    for confirmed in confirmations(drift, ratio_drifts(times, ratio, drift.quantity)):
        if len(others) > 1 and not against_each(confirmed, own, others):
            continue
        departure = departure_from_town(times, ratio, confirmed)
        if departure is None:
            return confirmed
        if departure[0] < DRIFT_SIGNIFICANCE * departure[1]:
            continue
        beyond = departure_from_weather(times, ratio, table, confirmed)
        if beyond is not None and beyond[0] < WEATHER_SIGNIFICANCE * beyond[1]:
            continue
        return with_departure(confirmed, departure, beyond)
    return None


def with_departure(
    drift: Detection, departure: tuple[float, float, int], beyond: tuple[float, float, int] | None = None
) -> Detection:
    """The drift with how far its ratio to the town moved in its reason (and how far beyond the weather)."""
    shift, spread, days = departure
    upward = "drifting upward" in drift.reason
    moved = f"rose by {100 * math.expm1(shift):.0f} %" if upward else f"fell by {-100 * math.expm1(-shift):.0f} %"
    weather = "" if beyond is None else (
        f"; {beyond[0] / beyond[1]:.1f} times beyond what the town's level and weather explain of it over "
        f"{beyond[2]} day{'s' if beyond[2] > 1 else ''}")
    tail = (f" (over {days} day{'s' if days > 1 else ''} its ratio to them {moved}, {shift / spread:.1f} times "
            f"the ±{100 * math.expm1(spread):.0f} % it usually varies by{weather})")
    return replace(drift, reason=drift.reason + tail)


def ratio_drifts(times: npt.NDArray[np.float64], ratio: npt.NDArray[np.float64], quantity: str) -> list[det.Event]:
    """Drifts of a log ratio of daily medians (the test :data:`DAILY` of the drift check)."""
    series = det.Series(times, ratio, DAY, f"log ratio of {quantity} to the town", "")
    median, spread = det.long_term(series, DAILY)
    return det.drift_events(series, DAILY, median, spread)


def against_each(drift: Detection, own: dict[int, float], others: Sequence[dict[int, float]]) -> bool:
    """Whether a drift also shows against every other station on its own, the same way at the same time.

    With two other stations their median is their mean: one of them drifting moves it by half, and a sound
    station then seems to drift the other way against it. A sensor that drifts alone drifts against each: its
    ratio to each drifted too, and over the drift's days it departed from each by at least
    :data:`EACH_SIGNIFICANCE` usual spreads (a ratio's drift against a station that drifted a few days before
    may still be running from that station's drift, while over these days the ratio barely moved).
    """
    for other in others:
        times, ratio = town_ratio(own, [other])
        if times.size < 3:
            continue
        if confirmed_drift(drift, ratio_drifts(times, ratio, drift.quantity)) is None:
            return False
        departure = departure_from_town(times, ratio, drift)
        if departure is not None and departure[0] < EACH_SIGNIFICANCE * departure[1]:
            return False
    return True


def departure_from_town(
    times: npt.NDArray[np.float64], ratio: npt.NDArray[np.float64], drift: Detection
) -> tuple[float, float, int] | None:
    """How far a station's log ratio to the town moved over the days its drift built up, and how much that
    ratio usually varies.

    A sensor drifting alone moves its ratio to the town far beyond the ratio's day-to-day variation; a station
    whose sources differ from the others' (heating at a school yard, traffic at a ring road) changes mostly as
    the town does when the season turns, and its ratio moves by about as much as it varies on other days. The
    days are those from the drift's onset to its alarm (``start``), the stretch over which its sums grew; later
    days are left out, since a drift's sums stay above the alarm for days after it ended. The ratio's usual
    level and spread are those the ratio's own drift test compares with at the onset: the median and robust
    standard deviation of the :data:`DAILY` window ``drift_lag`` before it (the spread at least the ratio's
    resolution).

    Args:
        times: shape (n,), day ends (s) of the daily log ratio, ascending (see :func:`town_ratio`).
        ratio: shape (n,), the log ratio of the station's daily medians to the town's.
        drift: the drift (``onset``, ``start`` and its direction in ``reason``).

    Returns:
        The mean departure of the ratio over those days, in log terms and signed so that a move the drift's way
        is positive; the ratio's usual spread (log terms); the number of days. None when the ratio has no
        usual level at the onset yet or no day of the drift is in the series.
    """
    days = np.floor(times / DAY)
    built = (days >= math.floor(drift.onset / DAY)) & (days <= math.floor(drift.start / DAY))
    if not built.any():
        return None
    series = det.Series(times, ratio, DAY, "log ratio to the town", "")
    median, spread = det.long_term(series, DAILY)
    first = int(np.argmax(built))
    lag = det.points(DAILY.drift_lag, DAY, low=0, high=times.size)
    if first < lag or not math.isfinite(median[first - lag]):
        return None
    usual = max(float(spread[first - lag]), det.resolution(ratio))
    sign = 1.0 if "drifting upward" in drift.reason else -1.0
    shift = sign * float(np.mean(ratio[built] - median[first - lag]))
    return shift, usual, int(built.sum())


def departure_from_weather(
    times: npt.NDArray[np.float64], ratio: npt.NDArray[np.float64], weather: npt.NDArray[np.float64],
    drift: Detection,
) -> tuple[float, float, int] | None:
    """How far a station's log ratio to the town departed from what the town's weather explains of it, over
    the days its drift built up and :data:`WEATHER_DAYS_AFTER` after (not beyond its end), and the spread of
    what the weather leaves unexplained.

    Where a station's sources differ from the town's, its ratio to the town is no constant: a ring road's
    share of the town's CO grows when the heating stops (warmer days) and when an inversion traps the exhaust
    (the town's level rises), and when calm air under a high keeps the exhaust near the ground (the air
    pressure rises). So the ratio's usual level on each day is a least-squares fit of the ratio on the log of
    the town's level and the town's weather (its temperature and air pressure) over the same window
    :func:`departure_from_town` takes its usual level from (the :data:`DAILY` window ``drift_lag`` before the
    onset), and its spread the robust standard deviation of the fit's residuals there (for the fit's ``p``
    coefficients, scaled by sqrt(n / (n - p)); at least the ratio's resolution). A weather spell passes within
    a day or two while a sensor's drift stays, so the days judged go on for two days after the alarm.

    Args:
        times: shape (n,), day ends (s) of the daily log ratio, ascending (see :func:`town_ratio`).
        ratio: shape (n,), the log ratio of the station's daily medians to the town's.
        weather: shape (n, k), the town's weather on those days (see :func:`town_weather`); NaN where unknown.
        drift: the drift (``onset``, ``start``, ``end`` and its direction in ``reason``).

    Returns:
        The mean departure from the fit over the days judged, in log terms and signed so that a move the drift's
        way is positive; the spread of the fit's residuals (log terms); the number of days. None when the
        window holds fewer than ``DAILY.min_history`` days with known weather, or a judged day's weather is
        unknown.
    """
    days = np.floor(times / DAY)
    last = min(math.floor(drift.start / DAY) + WEATHER_DAYS_AFTER, math.floor(drift.end / DAY))
    judged = (days >= math.floor(drift.onset / DAY)) & (days <= last)
    design = np.column_stack((np.ones(times.size), weather))
    known: npt.NDArray[np.bool_] = np.asarray(np.isfinite(design).all(axis=1))
    if not judged.any() or not known[judged].all():
        return None
    reference_end = int(np.argmax(judged)) - det.points(DAILY.drift_lag, DAY, low=0, high=times.size)
    rows = np.arange(max(0, reference_end - det.points(DAILY.drift_window, DAY) + 1), reference_end + 1)
    rows = rows[known[rows]]
    unknowns = design.shape[1]
    if rows.size < max(DAILY.min_history, unknowns + 1):
        return None
    coefficients, *_ = np.linalg.lstsq(design[rows], ratio[rows], rcond=None)
    residual = ratio[rows] - design[rows] @ coefficients
    spread = det.MAD_TO_SIGMA * float(np.median(np.abs(residual - np.median(residual))))
    usual = max(spread * math.sqrt(rows.size / (rows.size - unknowns)), det.resolution(ratio))
    sign = 1.0 if "drifting upward" in drift.reason else -1.0
    shift = sign * float(np.mean(ratio[judged] - design[judged] @ coefficients))
    return shift, usual, int(judged.sum())


def detections(events: Sequence[det.Event], device: DeviceInfo, quantity: str, channel: str) -> list[Detection]:
    """Events as records for the store."""
    return [
        Detection(device.dev_eui, quantity, channel, e.kind, e.began, e.start, e.end, e.score, e.reason, e.open,
                  device.municipality, device.site)
        for e in events
    ]


class Site:
    """The devices of one site, with what the job reads for them."""

    def __init__(self, municipality: str, name: str, devices: Sequence[DeviceInfo]) -> None:
        self.municipality = municipality
        self.name = name
        self.devices = {d.dev_eui: d for d in devices}
        known = models()
        self.models = {d.dev_eui: known.get(d.model) for d in devices}

    def quantities(self, family: Collection[str], *, max_interval: float = float("inf")) -> list[str]:
        """The quantities of ``family`` that some device of the site yields (reporting at least every
        ``max_interval`` seconds).
        """
        present = set().union(*(
            m.quantities for m in self.models.values()
            if m is not None and (0 < m.report_interval <= max_interval or max_interval == float("inf"))
        ))
        return [q for q in family if q in present]


async def examine_site(
    client: InfluxClient, site: Site, context: Context, report: JobReport
) -> tuple[list[Detection], set[SeriesKey]]:
    """Every detector over one site's series; returns the detections and the series examined."""
    found: list[Detection] = []
    examined: set[SeriesKey] = set()
    began = time.perf_counter()
    reads: list[tuple[str, str, list[Raw]]] = []
    uplinks = await read_site(client, UPLINK_MEASUREMENT, "f_cnt", site.municipality, site.name,
                              context.start - HISTORY["uplink"], context.end)
    families = (("level", LEVEL_QUANTITIES), ("count", COUNT_QUANTITIES), ("state", STATE_QUANTITIES),
                ("total", TOTAL_QUANTITIES))
    for family, quantities in families:
        limit = MAX_LEVEL_INTERVAL if family == "level" else float("inf")
        for quantity in site.quantities(quantities, max_interval=limit):
            raws = await read_site(client, quantity, "value", site.municipality, site.name,
                                   context.start - HISTORY[family], context.end)
            reads.append((family, quantity, raws))
    report.seconds["read"] += time.perf_counter() - began
    began = time.perf_counter()
    heard = {raw.dev_eui: raw for raw in uplinks if raw.channel == ""}
    totals: dict[str, list[tuple[str, Raw]]] = {}
    for family, quantity, raws in reads:
        for total in raws if family == "total" else ():
            if total.dev_eui in site.devices and total.times.size:
                totals.setdefault(total.dev_eui, []).append((quantity, total))
    for dev_eui, member in site.devices.items():
        received = heard.get(dev_eui)
        if received is None or received.times.size == 0:
            continue  # not heard within the history: not installed yet, or its open gap event stays open
        events = uplink_events(received, site.models[dev_eui], context, totals_read=dev_eui in totals)
        try:
            events = det.merge_events(events + total_events(totals.get(dev_eui, []), context))
        except det.DetectError as exc:
            report.errors.append(f"{dev_eui} totals: {exc}")
        found += detections(events, member, "", "")
        examined.add((dev_eui, "", ""))
    by_series: dict[tuple[str, str, str], Raw] = {}
    cleaned: dict[tuple[str, str, str], Raw] = {}  # particles without the readings a finding explains
    for family, quantity, raws in reads:
        for raw in raws if family != "total" else ():
            device = site.devices.get(raw.dev_eui)
            if device is None or raw.times.size == 0:
                continue
            model = site.models[raw.dev_eui]
            try:
                if family == "state":
                    events = state_events(raw, quantity, model, context, neighbours=raws)
                elif family == "count":
                    events = count_events(raw, quantity, model, context, neighbours=raws)
                else:
                    findings = level_findings(raw, quantity, model)
                    if quantity in PARTICLES or quantity in COLOCATED:  # judged for drift below, against each other
                        cleaned[(raw.dev_eui, quantity, raw.channel)] = explained_out(raw, findings)
                    events = level_events(raw, quantity, model, context, findings=findings)
            except det.DetectError as exc:
                report.errors.append(f"{raw.dev_eui} {quantity}: {exc}")
                continue
            if family == "count":
                events = [e for e in events if e.kind != "seasonal" or not shared_by_site(e, raw, raws)]
            found += detections(events, device, quantity, raw.channel)
            examined.add((raw.dev_eui, quantity, raw.channel))
            by_series[(raw.dev_eui, quantity, raw.channel)] = raw
            report.series += 1
    for (dev_eui, quantity, channel), raw in cleaned.items():
        model = site.models[dev_eui]
        if model is None or not 0 < model.report_interval <= MAX_LEVEL_INTERVAL:
            continue
        if quantity in PARTICLES:
            events = particle_drift_events(raw, quantity, cleaned, (dev_eui, channel))
        elif quantity in GAS_PARTNERS:
            events = gas_drift_events(raw, quantity, cleaned, (dev_eui, channel))
        else:
            continue
        found += detections(keep(events, float(raw.times.max()), context), site.devices[dev_eui], quantity, channel)
    for smaller, larger, names in PAIRS:
        for (dev_eui, quantity, channel), raw in by_series.items():
            other = by_series.get((dev_eui, larger, channel))
            if quantity != smaller or other is None:
                continue
            found += detections(pair_events(raw, other, names, context), site.devices[dev_eui], smaller, channel)
    report.seconds["detect"] += time.perf_counter() - began
    return found, examined


def load_sites(settings: Settings, shard: tuple[int, int], dev_euis: Collection[str] | None = None) -> list[Site]:
    """The registered sites worker ``shard`` owns (optionally only some devices)."""
    devices = sorted(DeviceRegistry(settings.registry_url).list(), key=lambda d: (d.municipality, d.site))
    sites = []
    for (municipality, name), group in groupby(devices, key=lambda d: (d.municipality, d.site)):
        members = [d for d in group if dev_euis is None or d.dev_eui in dev_euis]
        if members and owns(municipality, name, shard):
            sites.append(Site(municipality, name, members))
    return sites


async def detect_with(
    client: InfluxClient,
    settings: Settings,
    *,
    start: datetime | float,
    end: datetime | float,
    shard: tuple[int, int] = (0, 1),
    excluded_days: Collection[date] | None = None,
    timezone: str | None = None,
    dev_euis: Collection[str] | None = None,
    event_days: Collection[date] | None = None,
    store: EventStore | None = None,
    closed_days: Collection[date] | None = None,
) -> JobReport:
    """Examine ``[start, end)`` for the sites of worker ``shard`` with an open client; store the events.

    This is the call for the processing service's loop (it holds a client already): once per cycle with
    ``start`` = the previous cycle's ``end`` (or anything earlier: examining again is harmless) and ``end`` =
    now.

    Args:
        client: an InfluxDB client on the raw database.
        settings: Stadtpuls settings (the registry URL: the device list and the events store).
        start: start of the window (aware datetime or seconds since the epoch).
        end: end of the window; silences that last until ``end`` are open gaps.
        shard: ``(i, n)``: this worker owns the sites whose hash modulo n is i.
        excluded_days: public and school holidays of the town (its local dates): counts and CO2 are not
            compared with their week on them, either way. None: those of the town's calendar
            (``settings.calendar``, see :func:`town_context`).
        event_days: days of the town's known events that bring people (a Christmas market, a town festival;
            local dates): counts above their week are excused on them up to the lift the event shows at the
            site's other counters in the same hour (or :data:`COUNT`'s plain bound), counts below it are not;
            CO2 is compared as on any day (an event in the streets does not fill a classroom). None: those of
            the town's calendar.
        timezone: the town's time zone for the hour-of-week comparison of counts (None: ``settings.timezone``).
        closed_days: days on which the shops are shut for all or part of the day (public holidays, Christmas
            Eve; local dates): where holiday weeks fill a count's baseline, these stay out of it. None: those of
            the town's calendar.
        dev_euis: only these devices (default all registered).
        store: the events store (default the one in the registry database).

    Returns:
        What was read, found and stored; per-site failures are in ``errors``, the rest is still stored.

    Raises:
        ValueError: for an empty window or a bad shard.
    """
    window = town_context(settings, seconds(start), seconds(end), excluded_days=excluded_days,
                          event_days=event_days, timezone=timezone, closed_days=closed_days)
    if not window.end > window.start:
        raise ValueError(f"the window must end after it starts, got {start} .. {end}")
    check_shard(shard)
    store = store or EventStore(settings.registry_url)
    report = JobReport()
    found: list[Detection] = []
    examined: set[SeriesKey] = set()
    for site in load_sites(settings, shard, dev_euis):
        try:
            site_found, site_examined = await examine_site(client, site, window, report)
        except InfluxError as exc:
            report.errors.append(f"{site.municipality}/{site.name}: {exc}")
            continue
        found += site_found
        examined |= site_examined
        report.sites += 1
        report.devices += len(site.devices)
    began = time.perf_counter()
    found = without_drifts_departures(await confirm_drifts(client, found, window.start, window.end, report))
    report.seconds["detect"] += time.perf_counter() - began
    began = time.perf_counter()
    report.stored = await asyncio.to_thread(store.upsert, found, examined=examined, until=window.end)
    report.seconds["store"] += time.perf_counter() - began
    report.detections = len(found)
    for detection in found:
        report.by_kind[detection.kind] = report.by_kind.get(detection.kind, 0) + 1
    return report


def town_context(
    settings: Settings, start: float, end: float, *, excluded_days: Collection[date] | None = None,
    event_days: Collection[date] | None = None, timezone: str | None = None,
    closed_days: Collection[date] | None = None,
) -> Context:
    """The run's context: the days given, or else the holidays, event days and closed days of the town's calendar
    (``settings.calendar``; none without one) over the window and the longest history it reads
    (:data:`HISTORY`), in the town's time zone (``timezone``, else ``settings.timezone``).

    Raises:
        stadtpuls.errors.ConfigError: the calendar file cannot be read.
    """
    zone = timezone or settings.timezone
    if excluded_days is None or event_days is None or closed_days is None:
        calendar = load_calendar(settings.calendar)
        first = datetime.fromtimestamp(start - max(HISTORY.values()), ZoneInfo(zone)).date()
        last = datetime.fromtimestamp(end, ZoneInfo(zone)).date()
        excluded_days = calendar.holidays(first, last) if excluded_days is None else excluded_days
        event_days = calendar.event_days(first, last) if event_days is None else event_days
        closed_days = calendar.closed_days(first, last) if closed_days is None else closed_days
    return Context(start, end, frozenset(excluded_days), zone, frozenset(event_days), frozenset(closed_days))


def detect_window(
    settings: Settings,
    *,
    start: datetime | float,
    end: datetime | float,
    shard: tuple[int, int] = (0, 1),
    excluded_days: Collection[date] | None = None,
    timezone: str | None = None,
    dev_euis: Collection[str] | None = None,
    event_days: Collection[date] | None = None,
    closed_days: Collection[date] | None = None,
) -> JobReport:
    """:func:`detect_with` from synchronous code, with a client of its own (see there for the arguments)."""

    async def run() -> JobReport:
        async with InfluxClient.from_settings(settings.influx, timeout=300.0) as client:
            return await detect_with(client, settings, start=start, end=end, shard=shard,
                                     excluded_days=excluded_days, timezone=timezone, dev_euis=dev_euis,
                                     event_days=event_days, closed_days=closed_days)

    return asyncio.run(run())
