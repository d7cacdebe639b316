"""Anomalies in one device's readings, as events a technician can act on.

:func:`detect` validates a series, runs the kernels of :mod:`processing.kernels.anomaly` over it and turns
their flags into :class:`Event` values: when the condition was detected (``start``), when it was last seen
(``end``), its kind, a score (how far past its threshold; ≥ 1 for every event) and a short reason in plain
words. Events of one kind that overlap are merged, so each condition is reported once.

Two families of series, each with one set of parameters (:data:`LEVEL`, :data:`COUNT`):

* ``level``: a measured quantity (air quality, temperature, traffic speed). Detectors: out of range, stuck,
  spikes (a robust z-score against the trailing window, as a Hampel filter does), gaps, drift (CUSUM against
  the long-term trailing median).
* ``count``: people or vehicles per interval. Detectors: out of range (negative counts), gaps, deviations from
  the same hour of the week in earlier weeks, and a counter that stays at zero (or frozen) while earlier weeks
  at the same hours counted plenty.

:func:`detect_pair` finds physical impossibilities between two quantities of one station (PM2.5 above PM10);
:func:`detect_reference_drift` drift against a co-located reference sensor; :func:`detect_packet_loss` lost
uplinks and restarts from the frame counters; :func:`detect_counter_resets` cumulative counters that fall back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from processing.kernels import anomaly

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MINUTE = 60.0  # s
HOUR = 3600.0  # s
DAY = 86400.0  # s
WEEK = 7 * DAY  # s
MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation per median absolute deviation
OWN_SPREAD_MIN_SPAN = 6 * HOUR  # readings at the usual rate a counter's own spread needs before it is trusted
FLOOR_MIN_RUNS = 100  # runs at a series's floor that say how long it usually holds a value there
KINDS = ("level", "count")
FIRST_TIME = 0.0  # s: 1970-01-01
LAST_TIME = 253_402_300_799.0  # s: 9999-12-31 23:59:59
WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


class DetectError(ValueError):
    """The readings cannot be examined: wrong shapes, timestamps that are not finite, an unknown kind."""


@dataclass(frozen=True, slots=True)
class Event:
    """One anomalous condition of one series.

    Attributes:
        start: detection time, seconds since the epoch (UTC): when the condition became recognisable.
        end: time of the last reading that still showed it (seconds since the epoch).
        kind: ``out_of_range``, ``stuck``, ``spike``, ``gap``, ``drift``, ``seasonal``, ``impossible``,
            ``packet_loss``, ``restart`` or ``counter_reset``.
        score: how far past its threshold the condition went (≥ 1; larger is worse).
        reason: one or two sentences for a technician.
        onset: when the condition began, if earlier than ``start`` (the first frozen reading of a stuck value,
            the last reading before a gap, where a drift's sums began to grow); None means ``start``.
        open: whether the condition still held at the last reading examined (set by callers that know the
            series goes on, such as the detection job; :func:`detect` leaves it False).
    """

    start: float
    end: float
    kind: str
    score: float
    reason: str
    onset: float | None = None
    open: bool = False

    @property
    def began(self) -> float:
        """When the condition began: ``onset`` if known, else ``start``."""
        return self.start if self.onset is None else min(self.onset, self.start)

    def as_json(self) -> dict[str, object]:
        """The event as the JSON object ``stadtpuls process detect`` prints (times ISO-8601 with ``Z``)."""
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "kind": self.kind,
            "score": round(self.score, 3),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Settings:
    """Parameters of the detectors for one family of series (durations in seconds)."""

    spike_window: float  # trailing window of the robust z-score
    spike_threshold: float  # robust z beyond which a reading is a spike
    spike_floor: float  # the short window's spread is at least this share of the long window's
    drift_window: float  # trailing window of the long-term reference median
    drift_lag: float  # how long before a reading its reference window ends
    drift_slack: float  # CUSUM allowance, in robust standard deviations
    drift_threshold: float  # CUSUM alarm level, in robust standard deviations × days of readings
    stuck_factor: float  # a frozen stretch is stuck beyond this multiple of the longest normal one
    stuck_min_duration: float  # and never below this duration
    gap_factor: float  # silence beyond this multiple of the expected interval is a gap
    gap_history_factor: float  # with the interval estimated from the data: and beyond this multiple of its
    # longest usual silence (the 99th percentile of the spacing)
    seasonal_depth: int  # earlier readings of the same hour of the week in the baseline
    seasonal_threshold: float  # robust z beyond which a count deviates from its baseline
    seasonal_min_relative: float  # the baseline's spread is at least this share of the expected count
    busy_total: float  # counts the baseline expects during a zero stretch before the counter is stuck
    min_history: int  # fewest earlier readings before a rolling statistic is trusted
    warmup: float  # readings covering this long before the long-term statistics (and spikes) are trusted
    merge_gap: float  # flagged readings closer than this belong to one event
    spike_max_duration: float = math.inf  # a run of flagged readings lasting longer is a change of regime
    # (lessons filling a classroom with CO2), not a spike
    spike_must_return: bool = False  # a spike counts only once the next reading is back within the threshold
    # of the statistics before it (a level that stays up is a change, not a spike)
    spike_return_share: float = 1.0  # with spike_must_return: the readings just before and just after a spike
    # lie within this share of the threshold of the statistics before it (an evening's slow rise that crosses
    # the threshold at its top stands out from neither side)
    seasonal_level_window: float = 0.0  # counts: trailing span over which today's level of activity against the
    # baseline is measured and the baseline scaled by it (a sunny Saturday is busy all day); 0 = not scaled
    seasonal_level_cap: float = 2.5  # the scaling stays within [1/cap, cap]: a count eight times its usual is
    # still far from the day's level
    seasonal_level_min: float = 25.0  # readings whose baseline expects fewer counts do not enter the level (their
    # Poisson noise is above a fifth of the count)
    seasonal_min_weeks: int = 3  # fewest earlier readings of the slot (not excluded) that form a baseline
    seasonal_own_window: float = 0.0  # counts: trailing span over which the counter's own spread about its
    # (scaled) baseline is measured; a departure is judged against it as well as against counting noise. A crowd
    # moves a count by a share of it, not by its square root; 0 = counting noise and the slot's spread only
    stuck_floor_quantile: float = 0.0  # values at or below this quantile of the series are its floor: a value
    # held there is judged against the runs at the floor only (0: every run against all runs)
    drift_cap: float = math.inf  # a reading's standardised departure counts in the CUSUM up to this much: one
    # reading far off then adds no more than one somewhat off, and only a departure that lasts raises a drift
    seasonal_event_lift: float = 10.0  # counts: on days of known events, a count above its baseline is excused
    # up to this many times the baseline where the event's lift is not measured elsewhere (the largest a town's
    # calendar supports: an Advent Sunday evening at a Christmas market, about 4 × a usual Sunday × 2.4 in the
    # evening); math.inf excuses every count above the baseline


LEVEL = Settings(
    spike_window=12 * HOUR,
    spike_threshold=9.0,
    spike_floor=0.3,
    drift_window=7 * DAY,
    drift_lag=2 * DAY,
    drift_slack=1.5,
    drift_threshold=3.0,
    stuck_factor=3.0,
    stuck_min_duration=3 * HOUR,
    gap_factor=12.0,
    gap_history_factor=3.0,
    seasonal_depth=6,
    seasonal_threshold=6.0,
    seasonal_min_relative=0.1,
    busy_total=30.0,
    min_history=12,
    warmup=DAY,
    merge_gap=6 * HOUR,
)
COUNT = replace(LEVEL, seasonal_threshold=4.5, seasonal_depth=6)
PRESETS = {"level": LEVEL, "count": COUNT}


@dataclass(frozen=True, slots=True)
class Series:
    """A validated series with what the detectors derive from it once.

    Attributes:
        times: shape (n,), ascending seconds since the epoch, readings without a value removed.
        values: shape (n,), finite.
        interval: the expected time between readings, in seconds.
        name: what is measured, for reasons ("PM2.5", "people").
        unit: its unit, for reasons ("µg/m³"); empty for counts.
    """

    times: FloatArray
    values: FloatArray
    interval: float
    name: str
    unit: str
    interval_known: bool = True

    def amount(self, value: float) -> str:
        """A value with its unit, for a reason."""
        return f"{number(value)} {self.unit}".rstrip()


# --- entry points -----------------------------------------------------------------------------------------


def detect(
    times: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    kind: str = "level",
    settings: Settings | None = None,
    name: str | None = None,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    interval: float | None = None,
    excluded_days: Collection[date] = (),
    event_days: Collection[date] = (),
    timezone: str | None = None,
    now: float | None = None,
    closed_days: Collection[date] = (),
    event_lift: Callable[[FloatArray], FloatArray] | None = None,
    holiday_range: Callable[[FloatArray], tuple[FloatArray, FloatArray]] | None = None,
) -> list[Event]:
    """Anomalies of one series, sorted by start.

    Args:
        times: shape (n,), seconds since the epoch (any order; for duplicate times the last reading counts).
        values: shape (n,), NaN for a missing reading.
        kind: ``level`` (a measured quantity) or ``count`` (people or vehicles per interval).
        settings: detector parameters; the preset of ``kind`` when omitted.
        name: the quantity's name for the reasons ("value" for levels, "count" for counts when omitted).
        unit: its unit for the reasons.
        low: lowest plausible value (counts default to 0).
        high: highest plausible value.
        interval: expected seconds between readings (the device model's); the median spacing when omitted.
        excluded_days: dates (public and school holidays) that stay out of the seasonal baseline and raise
            seasonal events only beyond what ``holiday_range`` says they explain (none without it); dates of
            ``timezone``.
        event_days: dates of known events that bring people (a Christmas market, a town festival): they
            stay out of the baseline and explain counts above it up to the event's lift (``event_lift``, else
            ``settings.seasonal_event_lift`` times the baseline), not below (a counter that goes silent or
            falls far below its usual day is still reported); dates of ``timezone``.
        timezone: the town's time zone (``Europe/Berlin``): counts are compared by its wall-clock hour of the
            week, so opening hours stay in their slot across daylight saving changes; UTC when omitted.
        closed_days: dates on which the shops are shut for all or part of the day (public holidays, Christmas
            Eve): where holiday weeks fill a baseline (:func:`fill_from_holiday_weeks`), these stay out of it.
        now: the current time (seconds since the epoch); when given, a silence since the last reading that
            is longer than a gap is reported as an open gap ending ``now``.
        event_lift: for counts on ``event_days``: given reading times (s), the factor by which the event
            lifts counts at that time as measured elsewhere (the site's other counters against their weeks),
            NaN where unknown.
        holiday_range: for counts on ``excluded_days``: given reading times (s), the lowest and highest
            factor of the baseline the holiday explains at each, as measured elsewhere; NaN where unknown.

    Returns:
        The events, one per condition, sorted by start time.

    Raises:
        DetectError: when the input cannot be examined.
    """
    if kind not in KINDS:
        raise DetectError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    chosen = settings or PRESETS[kind]
    label = name or ("count" if kind == "count" else "value")
    series = prepare(times, values, interval=interval, name=label, unit=unit)
    if series.times.size == 0:
        return []
    if kind == "count" and low is None:
        low = 0.0
    events = out_of_range_events(series, low, high)
    events += gap_events(series, chosen, now=now)
    if kind == "level":
        median, spread = long_term(series, chosen)
        events += stuck_events(series, chosen)
        events += spike_events(series, chosen, spread)
        events += drift_events(series, chosen, median, spread)
    else:
        local = local_times(series.times, timezone)
        excluded = excluded_mask(local, excluded_days)
        crowded = excluded_mask(local, event_days) & ~excluded
        lift = event_lift(series.times) if event_lift is not None and crowded.any() else None
        holiday = holiday_range(series.times) if holiday_range is not None and excluded.any() else None
        events += seasonal_events(series, chosen, excluded, local=local, zone=timezone, crowded=crowded,
                                  lift=lift, holiday=holiday, closed=excluded_mask(local, closed_days))
    return merge_events(events)


def detect_pair(
    times: npt.ArrayLike,
    smaller: npt.ArrayLike,
    larger: npt.ArrayLike,
    *,
    names: tuple[str, str] = ("PM2.5", "PM10"),
    unit: str = "µg/m³",
    tolerance: float = 0.0,
) -> list[Event]:
    """Times where one quantity exceeds another that physically bounds it (PM2.5 above PM10).

    Args:
        times: shape (n,), seconds since the epoch, ascending; both quantities read at these times.
        smaller: shape (n,), the quantity that can never exceed ``larger`` (NaN for missing).
        larger: shape (n,).
        names: the two quantities' names for the reason.
        unit: their common unit.
        tolerance: an excess still explained by measurement noise.

    Returns:
        One ``impossible`` event per stretch of consecutive offending readings.
    """
    stamps = np.ascontiguousarray(times, dtype=np.float64)
    low = np.ascontiguousarray(smaller, dtype=np.float64)
    high = np.ascontiguousarray(larger, dtype=np.float64)
    if not stamps.ndim == low.ndim == high.ndim == 1 or not stamps.size == low.size == high.size:
        raise DetectError("times and both quantities must be 1-D arrays of the same length")
    if stamps.size > 1 and not bool(np.all(np.diff(stamps) >= 0)):
        raise DetectError("times must be ascending")
    excess = np.empty(stamps.size)
    anomaly.pair_excess(low, high, float(tolerance), excess)
    events = []
    for first, last in stretches(excess > 0):
        worst = first + int(np.argmax(excess[first : last + 1]))
        reason = (
            f"{names[0]} ({number(low[worst])} {unit}) above {names[1]} ({number(high[worst])} {unit}) at the "
            f"same station in {readings(last - first + 1)}; one of the two sensors is wrong"
        )
        score = 1.0 + float(excess[worst]) / max(abs(float(high[worst])), 1.0)
        events.append(Event(float(stamps[first]), float(stamps[last]), "impossible", score, reason))
    return merge_events(events)


def detect_reference_drift(
    times: npt.ArrayLike,
    values: npt.ArrayLike,
    reference: npt.ArrayLike,
    *,
    settings: Settings = LEVEL,
    name: str = "value",
    unit: str = "",
    reference_name: str = "the co-located reference",
) -> list[Event]:
    """Drift of a sensor against a co-located reference sensor measuring the same quantity.

    The difference between the two is what drifts; its usual offset is the difference's long-term median
    (``drift_lag`` earlier), its usual spread the long-term robust standard deviation.

    Args:
        times: shape (n,), seconds since the epoch, ascending; both sensors read at these times (resample
            first).
        values: shape (n,), the sensor under test (NaN for missing).
        reference: shape (n,), the reference sensor.
        settings: detector parameters (``drift_*`` are used).
        name: the quantity's name for the reason.
        unit: its unit.
        reference_name: how the reason names the reference.

    Returns:
        ``drift`` events.
    """
    stamps = np.ascontiguousarray(times, dtype=np.float64)
    own = np.asarray(values, dtype=np.float64)
    other = np.asarray(reference, dtype=np.float64)
    if not stamps.ndim == own.ndim == other.ndim == 1 or not stamps.size == own.size == other.size:
        raise DetectError("times, values and reference must be 1-D arrays of the same length")
    if stamps.size > 1 and not bool(np.all(np.diff(stamps) > 0)):
        raise DetectError("times must be strictly ascending")
    difference = own - other
    present = ~np.isnan(difference)
    if present.sum() < 2:
        return []
    series = prepare(stamps[present], difference[present], interval=None, name=f"{name} minus reference", unit=unit)
    median, spread = long_term(series, settings)
    return drift_events(series, settings, median, spread, against=f"the usual difference to {reference_name}")


def detect_packet_loss(
    times: npt.ArrayLike,
    counters: npt.ArrayLike,
    *,
    modulus: int = 2**32,
    window: int = 48,
    threshold: float = 0.25,
    min_lost: int = 5,
) -> list[Event]:
    """Packet loss and restarts from the LoRaWAN frame counters of one device's received uplinks.

    Args:
        times: shape (n,), reception times (seconds since the epoch), ascending.
        counters: shape (n,), the uplinks' frame counters (integers in ``[0, modulus)``).
        modulus: the counter's range (2**32; 2**16 for 16-bit counters).
        window: how many received uplinks the loss rate is judged over.
        threshold: share of uplinks lost in that window above which it is reported.
        min_lost: fewest lost uplinks in the window for a report (a few losses are normal radio).

    Returns:
        ``packet_loss`` events for stretches with a high loss rate and ``restart`` events where the
        counter went back to zero (a power cycle or a re-join).

    Raises:
        DetectError: on shapes, descending times or counters out of range.
    """
    stamps = np.ascontiguousarray(times, dtype=np.float64)
    frames = np.ascontiguousarray(counters, dtype=np.int64)
    if stamps.ndim != 1 or frames.ndim != 1 or stamps.size != frames.size:
        raise DetectError("times and frame counters must be 1-D arrays of the same length")
    if stamps.size > 1 and not bool(np.all(np.diff(stamps) >= 0)):
        raise DetectError("times must be ascending (frame counters in order of reception)")
    if frames.size and (int(frames.min()) < 0 or int(frames.max()) >= modulus):
        raise DetectError(f"frame counters must lie in [0, {modulus})")
    lost = np.empty(frames.size, dtype=np.int64)
    reset = np.empty(frames.size, dtype=np.bool_)
    anomaly.frame_losses(frames, modulus, min(modulus // 2, 16384), lost, reset)
    running = np.concatenate(([0], np.cumsum(lost)))
    index = np.arange(frames.size)
    start = np.maximum(index - window + 1, 0)
    lost_in_window = running[index + 1] - running[start]
    received = index - start + 1
    share = lost_in_window / (lost_in_window + received)
    events = []
    for first, last in stretches((share > threshold) & (lost_in_window >= min_lost)):
        worst = first + int(np.argmax(share[first : last + 1]))
        reason = (
            f"{int(lost_in_window[worst])} of {int(lost_in_window[worst] + received[worst])} uplinks lost up to "
            f"{when(stamps[worst])} ({100 * share[worst]:.0f} %): weak radio link or a gateway out of service"
        )
        events.append(
            Event(float(stamps[first]), float(stamps[last]), "packet_loss", float(share[worst]) / threshold, reason)
        )
    for at in np.flatnonzero(reset):
        reason = f"device restarted before {when(stamps[at])}: frame counter back from {frames[at - 1]} to {frames[at]}"
        events.append(Event(float(stamps[at]), float(stamps[at]), "restart", 1.0, reason))
    return merge_events(events)


def detect_counter_resets(
    times: npt.ArrayLike,
    totals: npt.ArrayLike,
    *,
    moduli: tuple[int, ...] = (2**16, 2**24, 2**32),
    name: str = "counter",
) -> list[Event]:
    """Resets of a cumulative counter (people counted since installation): the total falls back.

    A fall that is an ordinary step forward modulo one of ``moduli`` above the last total (at most ten times
    the largest usual step, or 100) is a wrap-around of a 16-, 24- or 32-bit counter, not a reset: counters
    do not say how wide they are. Re-joins of the radio that keep the totals are not reported: the data add
    up across them.

    Args:
        times: shape (n,), seconds since the epoch, ascending.
        totals: shape (n,), the counter's readings (NaN for missing; others in ``[0, max(moduli))``).
        moduli: the widths a counter may wrap at.
        name: the counter's name for the reason ("people in total").

    Returns:
        One ``counter_reset`` event per fall, at the first reading after it.

    Raises:
        DetectError: on shapes, descending times or totals out of range.
    """
    stamps = np.ascontiguousarray(times, dtype=np.float64)
    raw = np.asarray(totals, dtype=np.float64)
    if stamps.ndim != 1 or raw.ndim != 1 or stamps.size != raw.size:
        raise DetectError("times and totals must be 1-D arrays of the same length")
    if stamps.size > 1 and not bool(np.all(np.diff(stamps) >= 0)):
        raise DetectError("times must be ascending")
    present = ~np.isnan(raw)
    stamps, raw = stamps[present], raw[present]
    widest = max(moduli)
    if raw.size and (float(raw.min()) < 0 or float(raw.max()) >= widest):
        raise DetectError(f"counter totals must lie in [0, {widest})")
    counts = np.floor(raw).astype(np.int64)
    steps = np.diff(counts)
    forward = steps[steps > 0]
    slack = max(10 * int(np.quantile(forward, 0.99)) if forward.size else 0, 100)
    events = []
    for at in (np.flatnonzero(steps < 0) + 1).tolist():
        before, after = int(counts[at - 1]), int(counts[at])
        if any(m > before and (after - before) % m <= slack for m in moduli):
            continue  # wrapped around
        reason = (
            f"{name} went back from {whole(counts[at - 1])} to {whole(counts[at])} between {when(stamps[at - 1])} "
            f"and {when(stamps[at])}: the device's counter was reset (power loss or a reset), so totals across "
            f"this time do not add up"
        )
        score = 1.0 + float(counts[at - 1] - counts[at]) / max(float(counts[at - 1]), 1.0)
        events.append(Event(float(stamps[at]), float(stamps[at]), "counter_reset", score, reason,
                            onset=float(stamps[at - 1])))
    return events


# --- input ------------------------------------------------------------------------------------------------


def prepare(
    times: npt.ArrayLike, values: npt.ArrayLike, *, interval: float | None, name: str, unit: str
) -> Series:
    """Validate a series, sort it, drop duplicates (the last one wins) and missing readings.

    Raises:
        DetectError: on shapes, non-finite timestamps, infinite values or a non-positive interval.
    """
    stamps = np.asarray(times, dtype=np.float64)
    readings_ = np.asarray(values, dtype=np.float64)
    if stamps.ndim != 1 or readings_.ndim != 1 or stamps.size != readings_.size:
        raise DetectError(f"times and values must be 1-D of one length, got {stamps.shape} and {readings_.shape}")
    if not bool(np.all(np.isfinite(stamps))):
        raise DetectError("every timestamp must be finite")
    if stamps.size and not (float(stamps.min()) >= FIRST_TIME and float(stamps.max()) <= LAST_TIME):
        raise DetectError("timestamps must lie between the years 1970 and 9999")
    if bool(np.any(np.isinf(readings_))):
        raise DetectError("values must be finite numbers or NaN (missing)")
    if interval is not None and not (math.isfinite(interval) and interval > 0):
        raise DetectError(f"the expected interval must be a positive number of seconds, got {interval}")
    if stamps.size > 1 and not bool(np.all(np.diff(stamps) > 0)):
        order = np.argsort(stamps, kind="stable")
        stamps, readings_ = stamps[order], readings_[order]
        last_of_each = np.append(np.diff(stamps) > 0, True)
        stamps, readings_ = stamps[last_of_each], readings_[last_of_each]
    present = ~np.isnan(readings_)
    stamps = np.ascontiguousarray(stamps[present])
    readings_ = np.ascontiguousarray(readings_[present])
    if interval is None:
        estimated = float(np.median(np.diff(stamps))) if stamps.size > 1 else HOUR
        return Series(stamps, readings_, estimated, name, unit, interval_known=False)
    return Series(stamps, readings_, float(interval), name, unit)


def local_times(times: FloatArray, zone: str | None) -> FloatArray:
    """Wall-clock times in ``zone`` as seconds since the epoch (``times`` itself for UTC or no zone).

    Raises:
        DetectError: for an unknown time zone name.
    """
    if zone is None or times.size == 0:
        return times
    hours = np.floor(times / HOUR).astype(np.int64)
    blocks = hours // HOURS_PER_BLOCK
    if int(blocks[-1] - blocks[0]) > MAX_ZONE_BLOCKS:
        raise DetectError("timestamps span more than a century; split the series")
    offsets = np.empty(times.size)
    for block in np.unique(blocks).tolist():
        inside = blocks == block
        offsets[inside] = block_offsets(zone, block)[hours[inside] - block * HOURS_PER_BLOCK]
    return times + offsets


HOURS_PER_BLOCK = 8784  # a leap year of hours
MAX_ZONE_BLOCKS = 100


@lru_cache(maxsize=64)
def block_offsets(zone: str, block: int) -> FloatArray:
    """The zone's UTC offset (s) for each hour of one block of ``HOURS_PER_BLOCK`` hours since the epoch.

    Cached: the devices of a town share their zone and mostly the same year or two.

    Raises:
        DetectError: for an unknown time zone name.
    """
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DetectError(f"unknown time zone {zone!r}") from None
    offsets = np.empty(HOURS_PER_BLOCK)
    for index in range(HOURS_PER_BLOCK):
        offset = datetime.fromtimestamp((block * HOURS_PER_BLOCK + index) * HOUR, tz).utcoffset()
        offsets[index] = offset.total_seconds() if offset is not None else 0.0
    offsets.flags.writeable = False
    return offsets


def excluded_mask(times: FloatArray, days: Collection[date]) -> BoolArray:
    """True for readings whose date is one of ``days`` (``times`` as wall-clock seconds of the town's zone)."""
    if not days:
        return np.zeros(times.size, dtype=np.bool_)
    day_numbers = np.array([(day - date(1970, 1, 1)).days for day in days], dtype=np.int64)
    return np.isin(np.floor(times / DAY).astype(np.int64), day_numbers)


# --- detectors --------------------------------------------------------------------------------------------


def out_of_range_events(series: Series, low: float | None, high: float | None) -> list[Event]:
    """Readings outside the plausible range ``[low, high]`` (either bound may be absent)."""
    if low is None and high is None:
        return []
    lowest = -math.inf if low is None else float(low)
    highest = math.inf if high is None else float(high)
    excess = np.empty(series.values.size)
    anomaly.out_of_range(series.values, lowest, highest, excess)
    span = highest - lowest if math.isfinite(highest - lowest) and highest > lowest else 1.0
    events = []
    for first, last in stretches(excess > 0):
        worst = first + int(np.argmax(excess[first : last + 1]))
        value = float(series.values[worst])
        side = f"above the highest plausible {series.amount(highest)}" if value > highest else (
            f"below the lowest plausible {series.amount(lowest)}"
        )
        reason = f"{series.name} at {series.amount(value)}, {side} ({readings(last - first + 1)})"
        score = 1.0 + float(excess[worst]) / span
        events.append(Event(float(series.times[first]), float(series.times[last]), "out_of_range", score, reason))
    return events


def gap_events(series: Series, settings: Settings, *, now: float | None = None) -> list[Event]:
    """Silences longer than ``gap_factor`` expected intervals; the event starts when the reading was overdue."""
    limit = settings.gap_factor * series.interval
    if not series.interval_known and series.times.size > 1:
        # an interval estimated from the data: silences this series often has are its normal rhythm
        limit = max(limit, settings.gap_history_factor * float(np.quantile(np.diff(series.times), 0.99)))
    flags = np.empty(series.times.size, dtype=np.bool_)
    anomaly.gaps(series.times, limit, flags)
    ends = [float(t) for t in series.times[flags]]
    starts = [float(t) for t in series.times[np.flatnonzero(flags) - 1]]
    if now is not None and now - float(series.times[-1]) > limit:
        starts.append(float(series.times[-1]))
        ends.append(float(now))
    events = []
    for last_heard, heard_again in zip(starts, ends, strict=True):
        silence = heard_again - last_heard
        reason = (
            f"no reading for {duration(silence)} after {when(last_heard)}; "
            f"readings normally arrive every {duration(series.interval)}"
        )
        events.append(Event(last_heard + limit, heard_again, "gap", silence / limit, reason, onset=last_heard))
    return events


def stuck_events(series: Series, settings: Settings) -> list[Event]:
    """Values frozen for much longer than this series has ever normally stayed unchanged."""
    starts = np.empty(series.values.size, dtype=np.int64)
    ends = np.empty(series.values.size, dtype=np.int64)
    count = anomaly.constant_runs(series.values, 0.0, starts, ends)
    starts, ends = starts[:count], ends[:count]
    lengths = series.times[ends] - series.times[starts]
    normal = float(np.quantile(lengths, 0.99)) if count else 0.0
    limit = max(settings.stuck_factor * normal, settings.stuck_min_duration, 3 * series.interval)
    limits = np.full(count, limit)
    floored = np.zeros(count, dtype=bool)
    floor_normal = 0.0
    if settings.stuck_floor_quantile > 0 and count:
        # at its floor (a quiet night), a sensor that reports in coarse steps holds one value for hours: runs
        # there are judged against the runs there
        low = series.values[starts] <= float(np.quantile(series.values, settings.stuck_floor_quantile))
        if np.count_nonzero(low) >= FLOOR_MIN_RUNS:
            floor_normal = float(np.quantile(lengths[low], 0.99))
            floored = low & (settings.stuck_factor * floor_normal > limit)
            limits[floored] = settings.stuck_factor * floor_normal
    events = []
    for run in np.flatnonzero(lengths > limits):
        first, last = int(starts[run]), int(ends[run])
        limit = float(limits[run])
        detected = first + int(np.searchsorted(series.times[first : last + 1] - series.times[first], limit, "right"))
        at_floor = f"; at its lowest readings it holds a value for up to {duration(floor_normal)}" if (
            floored[run]) else ""
        reason = (
            f"{series.name} unchanged at {series.amount(series.values[first])} for {duration(lengths[run])} "
            f"since {when(series.times[first])}; {typical_variation(series)}{at_floor}"
        )
        score = float(lengths[run]) / limit
        events.append(
            Event(float(series.times[detected]), float(series.times[last]), "stuck", score, reason,
                  onset=float(series.times[first]))
        )
    return events


def spike_events(series: Series, settings: Settings, long_spread: FloatArray) -> list[Event]:
    """Readings far outside the trailing window's median, in robust standard deviations (a Hampel test).

    Args:
        series: the readings.
        settings: detector parameters.
        long_spread: shape (n,), the robust standard deviation over the long trailing window; a fraction of
            it floors the short window's, so that an unusually quiet stretch (or a frozen value) does not make
            ordinary variation look like a spike.
    """
    window = points(settings.spike_window, series.interval)
    median, mad = rolling(series.values, window, settings.min_history)
    floor = np.maximum(np.nan_to_num(settings.spike_floor * long_spread), resolution(series.values))
    scale = np.maximum(MAD_TO_SIGMA * mad, floor)
    z = (series.values - median) / scale
    # no verdict before the long-term spread is known: a few hours of history cannot tell a spike from a cycle
    flags = (np.abs(np.nan_to_num(z)) > settings.spike_threshold) & np.isfinite(long_spread)
    if math.isfinite(settings.spike_max_duration) or settings.spike_must_return:
        for first, last in stretches(flags):
            too_long = series.times[last] - series.times[first] > settings.spike_max_duration
            if too_long or (settings.spike_must_return and not isolated(
                    series.values, median, scale, first, last, settings.spike_threshold * settings.spike_return_share)):
                flags[first : last + 1] = False
    events = []
    for first, last in stretches(flags, bridge=points(settings.merge_gap, series.interval, low=0)):
        worst = first + int(np.nanargmax(np.abs(z[first : last + 1])))
        direction = "above" if z[worst] > 0 else "below"
        reason = (
            f"{series.name} {series.amount(series.values[worst])} at {when(series.times[worst])}, far {direction} "
            f"the {duration(settings.spike_window)} before it ({series.amount(median[worst])} "
            f"± {number(scale[worst])})"
        )
        score = abs(float(z[worst])) / settings.spike_threshold
        events.append(Event(float(series.times[first]), float(series.times[last]), "spike", score, reason))
    return events


def isolated(
    values: FloatArray, median: FloatArray, scale: FloatArray, first: int, last: int, within: float
) -> bool:
    """Whether a run of flagged readings stands out on both sides: the reading after it is back, and the one
    before it was still, within ``within`` robust standard deviations of the statistics before the run (False
    when no reading follows yet).
    """
    if last + 1 >= values.size or not math.isfinite(median[first]):
        return False
    sides = values[[first - 1, last + 1]] if first > 0 else values[[last + 1]]
    return bool(np.all(np.abs(sides - median[first]) / scale[first] <= within))


def long_term(series: Series, settings: Settings) -> tuple[FloatArray, FloatArray]:
    """Trailing median and robust standard deviation over ``drift_window`` (shape (n,) each).

    NaN until the window holds ``warmup`` worth of readings.
    """
    window = points(settings.drift_window, series.interval)
    warmup = points(settings.warmup, series.interval, low=settings.min_history, high=window)
    median, mad = rolling(series.values, window, warmup)
    return median, MAD_TO_SIGMA * mad


def drift_events(
    series: Series, settings: Settings, median: FloatArray, spread: FloatArray, *, against: str = ""
) -> list[Event]:
    """A slow, lasting departure from a reference, found by a two-sided CUSUM.

    The reference is the long-term trailing median ``drift_lag`` earlier, so that a slow drift does not
    drag its own reference along.

    Args:
        series: the readings (or their differences from a co-located sensor).
        settings: detector parameters.
        median: shape (n,), the long-term trailing median (see :func:`long_term`).
        spread: shape (n,), the long-term robust standard deviation.
        against: how the reason names the reference; the long-term median when empty.
    """
    lag = points(settings.drift_lag, series.interval, low=0, high=series.values.size)
    reference, scale = np.full(series.values.size, np.nan), np.full(series.values.size, np.nan)
    reference[lag:] = median[: series.values.size - lag]
    scale[lag:] = np.maximum(spread[: series.values.size - lag], resolution(series.values))
    upper, lower = np.empty(series.values.size), np.empty(series.values.size)
    capped = series.values
    if math.isfinite(settings.drift_cap):
        cap = settings.drift_cap
        capped = reference + np.clip((series.values - reference) / scale, -cap, cap) * scale
    anomaly.cusum(np.ascontiguousarray(capped), reference, scale, settings.drift_slack, upper, lower)
    alarm = settings.drift_threshold * max(DAY / series.interval, 1.0)
    baseline = against or (
        f"its median over the {duration(settings.drift_window)} up to {duration(settings.drift_lag)} before"
    )
    events = []
    for sums, direction in ((upper, "upward"), (lower, "downward")):
        for first, last in stretches(sums > alarm):
            quiet = np.flatnonzero(sums[:first] == 0)
            onset = int(quiet[-1]) + 1 if quiet.size else 0
            shift = float(np.nanmean(series.values[onset : last + 1] - reference[onset : last + 1]))
            reason = (
                f"{series.name} drifting {direction} since about {when(series.times[onset])}: on average "
                f"{series.amount(abs(shift))} {'above' if shift > 0 else 'below'} {baseline} "
                f"({series.amount(reference[first])} ± {number(scale[first])})"
            )
            score = float(np.max(sums[first : last + 1])) / alarm
            events.append(
                Event(float(series.times[first]), float(series.times[last]), "drift", score, reason,
                      onset=float(series.times[onset]))
            )
    return events


def seasonal_events(
    series: Series,
    settings: Settings,
    excluded: BoolArray,
    *,
    local: FloatArray,
    zone: str | None,
    crowded: BoolArray | None = None,
    lift: FloatArray | None = None,
    holiday: tuple[FloatArray, FloatArray] | None = None,
    closed: BoolArray | None = None,
) -> list[Event]:
    """Counts far from the same hour of the week in earlier weeks, and counters stuck at zero in busy hours.

    A day of a known event that brings people (``crowded``) is no usual day, so it stays out of the baseline,
    the day's level and the counter's own spread, like an excluded day; but what it explains is more people,
    and only as many as it brings: a count below its baseline is judged as on any day, a count above it
    against the baseline times the event's lift, the way a day's level scales it on other days. The lift is
    what the event shows elsewhere at the same time (``lift``, at least 1); where that is unknown, the plain
    bound ``settings.seasonal_event_lift``. So a market crowd at every counter is excused, while one counter
    at eight times its week where the others count a third more is still reported. A counter that goes silent
    or falls far below a usual day on such a day is reported.

    A holiday (``excluded``) stays out of the baseline too. Where what it does is measured elsewhere
    (``holiday``: the site's other counters against their weeks), a count is judged against its baseline
    times that range, in both directions; where it is not, nothing on it is reported (:func:`explained_range`).
    The counter's own spread on holidays and event days is the one it had before they began.

    Args:
        series: the counts.
        settings: detector parameters.
        excluded: shape (n,), readings on public and school holidays: they explain departures either way,
            as far as ``holiday`` says (nothing on them is reported where it does not).
        local: shape (n,), the readings' wall-clock times as seconds (UTC plus the zone's offset), so that a
            Saturday 11:00 stays a Saturday 11:00 across daylight saving changes.
        zone: the time zone's name for the reasons (None: UTC).
        crowded: shape (n,), readings on days of known events that bring people (None: none).
        lift: shape (n,), the event's lift measured elsewhere at each reading's time (NaN: unknown; None:
            unknown everywhere).
        holiday: two arrays of shape (n,), the lowest and highest factor of the baseline a holiday explains at
            each reading (NaN: unknown; None: unknown everywhere). ``(0, 1)`` says a holiday empties a room and
            fills none.
        closed: shape (n,), readings on days the shops are shut for all or part of the day (None: none): no
            holiday week of them fills a baseline.
    """
    slot_length = seasonal_slot(series.interval)
    n_slots = int(WEEK // slot_length)
    # the epoch began on a Thursday: shift so that slot 0 is Monday 00:00
    slots = (np.floor(local / slot_length).astype(np.int64) + 3 * int(DAY // slot_length)) % n_slots
    depth = settings.seasonal_depth
    expected, spread = np.empty(series.values.size), np.empty(series.values.size)
    least = min(depth, max(settings.seasonal_min_weeks, 1))
    unusual = excluded if crowded is None else excluded | crowded  # days that do not say what a usual day is
    anomaly.seasonal_baseline(series.values, slots, unusual, n_slots, depth, least, expected, spread)
    # where the day's level scales the baseline, any weeks will do; elsewhere only a holiday's own readings are
    # judged against holiday weeks (a classroom after the school holidays is full again, as before them)
    filled = fill_from_holiday_weeks(series.values, slots, excluded, crowded, n_slots, depth, least, expected,
                                     spread, anywhere=settings.seasonal_level_window > 0, closed=closed)
    # a holiday judged against holiday weeks is judged as a usual day is: at its own level, with the spread
    # the counter shows on such days; the other unusual days stay apart
    apart = unusual & ~filled
    # counting noise: the larger of the two rates could have produced both counts (Poisson variance)
    level = np.ones(series.values.size)
    if settings.seasonal_level_window > 0:
        level = activity_level(series, settings, expected, apart)
        expected, spread = expected * level, spread * level
    unknown = np.zeros(series.values.size, dtype=bool)
    own = np.zeros(series.values.size)
    if settings.seasonal_own_window > 0:  # a departure is judged once the counter's own spread is known
        own = own_spread(series, settings, expected, apart)
        # a weeks-long event or holiday: the counter varies as it did before it began
        own = carried_forward(own, apart)
        # unknown before the event too (it began before the counter had a baseline on a usual day): its days
        # are judged by counting noise and the slot's spread alone, or a weeks-long event would hide every fault
        unknown = np.isnan(own) & ~apart
    below, above = explained_range(excluded, crowded, settings, lift=lift, holiday=holiday, holiday_weeks=filled)
    z, scale = departure(series.values, expected, spread, own, settings)
    z[unknown] = 0.0
    bounded = np.zeros(series.values.size, dtype=bool)  # judged against what the day explains
    shown = expected.copy()  # the baseline each reason names (``expected`` still serves the silent counters)
    for bound, side in ((above, 1.0), (below, -1.0)):
        judged = (bound != 1.0) & (side * z > 0)  # beyond the baseline on a side the day explains
        z[judged & ~np.isfinite(bound)] = 0.0
        moved = judged & np.isfinite(bound)
        if not moved.any():
            continue
        factor = bound[moved]
        beyond, beyond_scale = departure(series.values[moved], expected[moved] * factor, spread[moved] * factor,
                                         own[moved], settings)
        z[moved] = side * np.maximum(side * beyond, 0.0)  # within what the day explains: no departure
        shown[moved], scale[moved], level[moved] = expected[moved] * factor, beyond_scale, level[moved] * factor
        bounded |= moved
    events = []
    for first, last in stretches(
        np.abs(z) > settings.seasonal_threshold, bridge=points(settings.merge_gap, series.interval, low=0)
    ):
        worst = first + int(np.argmax(np.abs(z[first : last + 1])))
        slot_name = slot_label(int(slots[worst]), slot_length) + (f" ({zone} time)" if zone else "")
        reason = (
            f"{series.name} {whole(series.values[worst])} at {when(series.times[worst])} where earlier "
            f"{slot_name} had "
            + day_level(shown[worst], scale[worst], level[worst],
                        scaled_by(bool(bounded[worst]), bool(excluded[worst])))
        )
        score = abs(float(z[worst])) / settings.seasonal_threshold
        events.append(Event(float(series.times[first]), float(series.times[last]), "seasonal", score, reason))
    return absorb(events, silent_counter_events(series, settings, expected, excluded))


def fill_from_holiday_weeks(
    values: FloatArray, slots: npt.NDArray[np.int64], holidays: BoolArray, crowded: BoolArray | None, n_slots: int,
    depth: int, least: int, expected: FloatArray, spread: FloatArray, *, anywhere: bool,
    closed: BoolArray | None = None,
) -> BoolArray:
    """Where a slot has fewer than ``least`` usual earlier weeks, take its holiday weeks as well (in place):
    for every reading where ``anywhere`` (the day's level scales the baseline, as it does for counts), else
    only for readings on holidays themselves. Days of known events (``crowded``) stay out all the same: a
    market's crowd says nothing about a usual day, and what it explains is judged against usual weeks. So do
    days on which the shops are shut (``closed``: public holidays, Christmas Eve's afternoon): a Christmas Day
    says nothing about a Thursday in the school holidays after it.

    A fortnight of school holidays in a short history would otherwise leave the days in and after it without
    a baseline: a counter at eight times its week, a classroom's CO2 spike on Good Friday would go unjudged.
    Slots with too few weeks of any kind stay unknown (NaN).

    Returns:
        Shape (n,): the readings whose baseline now holds holiday weeks.
    """
    missing: BoolArray = np.isnan(expected) & (True if anywhere else holidays)
    if not (missing.any() and holidays.any()):
        return np.zeros(values.size, dtype=np.bool_)
    filled, filled_spread = np.empty(values.size), np.empty(values.size)
    events = np.zeros(values.size, dtype=np.bool_) if crowded is None else crowded & ~holidays
    if closed is not None:
        events = events | closed
    anomaly.seasonal_baseline(values, slots, events, n_slots, depth, least, filled, filled_spread)
    expected[missing], spread[missing] = filled[missing], filled_spread[missing]
    return missing & np.isfinite(filled)


def scaled_by(bounded: bool, holiday: bool) -> str:
    """What scaled a count's baseline, for its reason."""
    if not bounded:
        return "the day's level so far"
    return "what the holiday explains" if holiday else "what the day's event explains"


def explained_range(
    excluded: BoolArray,
    crowded: BoolArray | None,
    settings: Settings,
    *,
    lift: FloatArray | None = None,
    holiday: tuple[FloatArray, FloatArray] | None = None,
    holiday_weeks: BoolArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Per reading, the factors of its baseline its day explains, below and above it: a count between the
    baseline times the one and times the other is no departure.

    A usual day explains nothing (1 and 1). An event day (``crowded``) explains more people up to its lift
    (``lift``, at least 1; ``settings.seasonal_event_lift`` where unknown) and no fewer. A holiday
    (``excluded``) explains what it is measured to explain (``holiday``: the lowest and highest factor at each
    reading, NaN where unknown), or anything where that is unknown (0 and infinity); but where its baseline
    holds holiday weeks (``holiday_weeks``, see :func:`fill_from_holiday_weeks`), what holidays do is in it,
    so an unmeasured holiday explains fewer people and no more (0 and 1).

    Raises:
        DetectError: when ``lift`` or ``holiday`` do not have one value per reading.
    """
    size = excluded.size
    below, above = np.ones(size), np.ones(size)
    below[excluded], above[excluded] = 0.0, math.inf
    if holiday is not None:
        low, high = (np.asarray(part, dtype=np.float64) for part in holiday)
        if low.shape != (size,) or high.shape != (size,):
            raise DetectError(f"what a holiday explains must have one value per reading, got {low.shape} and "
                              f"{high.shape}")
        known = excluded & np.isfinite(low) & ~np.isnan(high)
        below[known], above[known] = np.maximum(low[known], 0.0), high[known]
    if holiday_weeks is not None:
        above[holiday_weeks & excluded & np.isinf(above)] = 1.0
    if crowded is not None:
        measured = np.full(size, np.nan) if lift is None else np.asarray(lift, dtype=np.float64)
        if measured.shape != (size,):
            raise DetectError(f"the event's lift must have one value per reading, got shape {measured.shape}")
        allowed = np.where(np.isfinite(measured), np.maximum(measured, 1.0), max(settings.seasonal_event_lift, 1.0))
        above[crowded] = allowed[crowded]
    return below, above


def carried_forward(values: FloatArray, where: BoolArray) -> FloatArray:
    """``values`` with NaN at ``where`` replaced by the last finite value before (NaN if there is none)."""
    index = np.where(np.isfinite(values), np.arange(values.size), -1)
    last = np.maximum.accumulate(index) if values.size else index
    filled = np.where(last >= 0, values[np.maximum(last, 0)], np.nan)
    out: FloatArray = np.where(where & np.isnan(values), filled, values)
    return out


def day_level(expected: float, scale: float, level: float, why: str = "the day's level so far") -> str:
    """'85 ± 13', or '85 (× 1.6 at the day's level so far: 136 ± 20)' when the baseline was scaled (``why``
    says by what).
    """
    if abs(level - 1.0) <= 0.05:
        return f"{whole(expected)} ± {whole(scale)}"
    return f"{whole(expected / level)} (× {level:.1f} at {why}: {whole(expected)} ± {whole(scale)})"


def departure(
    values: FloatArray, expected: FloatArray, spread: FloatArray, own: FloatArray, settings: Settings
) -> tuple[FloatArray, FloatArray]:
    """Robust z of counts against their (scaled) baseline, and its scale: the larger of the slot's spread,
    counting noise (Poisson at the larger of the two rates), the counter's own relative spread ``own`` (NaN
    taken as 0) and ``seasonal_min_relative`` of the expected count.
    """
    variance = np.maximum(np.maximum(expected, values), 1.0) + (np.nan_to_num(own) * np.nan_to_num(expected)) ** 2
    floor = np.maximum(np.sqrt(variance), settings.seasonal_min_relative * np.abs(expected))
    scale: FloatArray = np.maximum(MAD_TO_SIGMA * spread, floor)
    z: FloatArray = np.nan_to_num((values - expected) / scale)
    return z, scale


def activity_level(series: Series, settings: Settings, expected: FloatArray, excluded: BoolArray) -> FloatArray:
    """Today's level of activity against the seasonal baseline, from the readings just before each one.

    The trailing median of ``count / expected`` over ``seasonal_level_window`` (readings the baseline expects
    at least ``seasonal_level_min`` counts of, zeros and excluded days left out), clipped to
    ``[1 / seasonal_level_cap, seasonal_level_cap]``; 1 where too few readings are known. Weather and the
    day's mood move every hour of a day together, while a fault moves its own stretch: a median over several
    hours follows the one and not the other.

    Returns:
        Shape (n,), the factor to scale the baseline by.
    """
    usable = (expected >= settings.seasonal_level_min) & (series.values > 0) & ~excluded
    ratio = np.where(usable, series.values / np.where(usable, expected, 1.0), np.nan)
    window = points(settings.seasonal_level_window, series.interval, low=1)
    level, _ = rolling(np.ascontiguousarray(ratio), window, max(window // 3, 1))
    cap = max(settings.seasonal_level_cap, 1.0)
    return np.clip(np.nan_to_num(level, nan=1.0), 1.0 / cap, cap)


def own_spread(series: Series, settings: Settings, expected: FloatArray, excluded: BoolArray) -> FloatArray:
    """The counter's own relative spread about its baseline beyond counting noise, from the readings before each.

    A crowd, a group, a shop's offer move a count by a share of it: beyond Poisson noise a count varies by a
    fraction of its expected value. That fraction is the robust standard deviation of ``log(count / expected)``
    over the trailing ``seasonal_own_window`` (readings the baseline expects at least ``seasonal_level_min``
    counts of, zeros and excluded days left out), less the part counting noise explains (``1 / expected`` in
    log terms), so that each counter is judged by its own usual variability and not by a fixed share.

    Returns:
        Shape (n,), the relative standard deviation (NaN where too few readings are known).
    """
    usable = (expected >= settings.seasonal_level_min) & (series.values > 0) & ~excluded
    safe = np.where(usable, expected, 1.0)
    residual = np.where(usable, np.log(np.where(usable, series.values, 1.0) / safe), np.nan)
    counting = np.where(usable, 1.0 / safe, np.nan)
    window = points(settings.seasonal_own_window, series.interval, low=1)
    least = points(OWN_SPREAD_MIN_SPAN, series.interval, low=1)
    _, mad = rolling(np.ascontiguousarray(residual), window, least)
    noise, _ = rolling(np.ascontiguousarray(counting), window, least)
    excess = (MAD_TO_SIGMA * mad) ** 2 - np.nan_to_num(noise)
    spread: FloatArray = np.sqrt(np.maximum(excess, 0.0))  # NaN stays NaN: not known yet
    return spread


def silent_counter_events(
    series: Series, settings: Settings, expected: FloatArray, excluded: BoolArray
) -> list[tuple[float, Event]]:
    """A counter that stays at zero while earlier weeks at the same hours counted ``busy_total`` or more.

    Returns:
        For each such stretch, the time of its first zero and its ``stuck`` event (which starts when the
        missing count reached ``busy_total``).
    """
    starts = np.empty(series.values.size, dtype=np.int64)
    ends = np.empty(series.values.size, dtype=np.int64)
    count = anomaly.constant_runs(series.values, 0.0, starts, ends)
    starts, ends = starts[:count], ends[:count]
    zero_runs = (series.values[starts] == 0) & (ends - starts >= 2)
    usual = np.where(excluded, 0.0, np.nan_to_num(np.maximum(expected, 0.0)))
    running = np.cumsum(usual)
    found = []
    for first, last in zip(starts[zero_runs].tolist(), ends[zero_runs].tolist(), strict=True):
        missing = running[first : last + 1] - (running[first - 1] if first else 0.0)
        if missing[-1] < settings.busy_total:
            continue
        detected = first + int(np.searchsorted(missing, settings.busy_total))
        reason = (
            f"counter stuck at 0 for {duration(series.times[last] - series.times[first])} since "
            f"{when(series.times[first])}, in hours when earlier weeks counted about {whole(missing[-1])}"
        )
        score = float(missing[-1]) / settings.busy_total
        event = Event(float(series.times[detected]), float(series.times[last]), "stuck", score, reason,
                      onset=float(series.times[first]))
        found.append((float(series.times[first]), event))
    return found


def absorb(deviations: list[Event], silent: list[tuple[float, Event]]) -> list[Event]:
    """One event per condition: a dead counter's deviations from its baseline become part of its ``stuck`` event.

    A seasonal event that overlaps a zero stretch is dropped; the stuck event then starts at the earlier of
    its own detection and the seasonal one (but not before the stretch's first zero).
    """
    kept = []
    for deviation in deviations:
        hit = next(
            (i for i, (first, event) in enumerate(silent) if deviation.start <= event.end and deviation.end >= first),
            None,
        )
        if hit is None:
            kept.append(deviation)
            continue
        first, event = silent[hit]
        silent[hit] = (first, replace(event, start=min(event.start, max(deviation.start, first))))
    return kept + [event for _, event in silent]


# --- events -----------------------------------------------------------------------------------------------


def merge_events(events: Iterable[Event]) -> list[Event]:
    """One event per condition: events of one kind that overlap or touch become one, keeping the worst reason.

    Returns:
        The merged events sorted by start (then kind).
    """
    merged: list[Event] = []
    by_kind: dict[str, list[Event]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    for group in by_kind.values():
        group.sort(key=lambda e: (e.start, e.end))
        current = group[0]
        for event in group[1:]:
            if event.start <= current.end:
                worst = event if event.score > current.score else current
                onset = min(current.began, event.began)
                current = Event(current.start, max(current.end, event.end), current.kind, worst.score, worst.reason,
                                onset=None if onset >= current.start else onset, open=current.open or event.open)
            else:
                merged.append(current)
                current = event
        merged.append(current)
    return sorted(merged, key=lambda e: (e.start, e.kind))


def stretches(flags: BoolArray, *, bridge: int = 0) -> list[tuple[int, int]]:
    """First and last index of each run of True, runs separated by at most ``bridge`` False joined."""
    hits = np.flatnonzero(flags)
    if hits.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(hits) > bridge + 1)
    firsts = np.concatenate(([hits[0]], hits[breaks + 1]))
    lasts = np.concatenate((hits[breaks], [hits[-1]]))
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))


# --- statistics helpers -------------------------------------------------------------------------------------


def rolling(values: FloatArray, window: int, min_count: int) -> tuple[FloatArray, FloatArray]:
    """Trailing median and MAD over ``window`` points (shape (n,) each; NaN until ``min_count`` readings)."""
    median, mad = np.empty(values.size), np.empty(values.size)
    anomaly.rolling_median_mad(values, window, min(min_count, window), median, mad)
    return median, mad


def points(span: float, interval: float, *, low: int = 8, high: int = 4096) -> int:
    """How many readings at ``interval`` cover ``span`` (clipped to ``[low, high]`` to bound the cost)."""
    return int(min(max(round(span / interval), low), high))


def resolution(values: FloatArray) -> float:
    """The series' step: the smallest change between consecutive readings (a floor for robust spreads)."""
    steps = np.abs(np.diff(values))
    steps = steps[steps > 0]
    return float(steps.min()) if steps.size else 1e-9


def typical_variation(series: Series) -> str:
    """"this sensor normally varies by ±3 µg/m³ within an hour", from the median change over an hour."""
    horizon = max(HOUR, series.interval)
    earlier = np.searchsorted(series.times, series.times - horizon)
    later = np.flatnonzero(earlier < np.arange(series.times.size))
    changes = np.abs(series.values[later] - series.values[earlier[later]])
    changes = changes[changes > 0]
    if changes.size == 0:
        return "this sensor has never changed in the data examined"
    span = "within an hour" if horizon == HOUR else f"within {duration(horizon)}"
    return f"this sensor normally varies by ±{series.amount(float(np.median(changes)))} {span}"


# --- wording ----------------------------------------------------------------------------------------------


def number(value: float) -> str:
    """A number rounded for reading: 12.0, 1,234, 0.0312."""
    value = float(value)
    if not math.isfinite(value):
        return "unknown"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1 or value == 0:
        return f"{value:.1f}"
    return f"{value:.3g}"


def whole(value: float) -> str:
    """A count for reading: 1,234."""
    return f"{float(value):,.0f}"


def duration(seconds: float) -> str:
    """A duration in the largest sensible unit: 45 s, 20 min, 9 h, 2.5 days."""
    seconds = float(seconds)
    if seconds < 2 * MINUTE:
        return f"{seconds:.0f} s"
    if seconds < 2 * HOUR:
        return f"{seconds / MINUTE:.0f} min"
    if seconds < 2 * DAY:
        hours = seconds / HOUR
        return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h".replace(".0 h", " h")
    days = seconds / DAY
    return f"{days:.0f} days" if days == round(days) else f"{days:.1f} days"


def readings(count: int) -> str:
    """'1 reading', '3 readings'."""
    return f"{count} reading" if count == 1 else f"{count} readings"


def when(seconds: float) -> str:
    """A UTC time for a reason: 2015-09-01 13:00 UTC."""
    return datetime.fromtimestamp(float(seconds), UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(seconds: float) -> str:
    """ISO-8601 UTC with ``Z``, seconds resolution (milliseconds when present)."""
    moment = datetime.fromtimestamp(float(seconds), UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def seasonal_slot(interval: float) -> float:
    """Length of a slot of the week: the reading interval when it divides an hour (or a day), else a day."""
    for length in (HOUR, DAY):
        if interval <= length:
            step = length / max(1, round(length / interval))
            return step if length % step == 0 and step >= MINUTE else length
    return DAY


def slot_label(slot: int, slot_length: float) -> str:
    """'Saturdays 14:00-14:30' for a slot of the week (Monday 00:00 is slot 0), 'Saturdays' for whole days."""
    per_day = int(DAY // slot_length)
    weekday = WEEKDAYS[slot // per_day]
    if per_day == 1:
        return weekday
    begin = (slot % per_day) * slot_length
    end = (begin + slot_length) % DAY
    return f"{weekday} {clock(begin)}-{clock(end)}"


def clock(seconds: float) -> str:
    """Time of day as HH:MM."""
    return f"{int(seconds // HOUR):02d}:{int(seconds % HOUR // MINUTE):02d}"
