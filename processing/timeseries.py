"""Validated entry points to the kernels: rollups, time-weighted occupancy, footfall per interval, running means.

Each function checks and converts its input (timestamps in ns since the epoch, any order, duplicates allowed:
the last value given for a timestamp wins, as InfluxDB keeps the last write of a point), calls a kernel from
``processing/kernels/`` and wraps the result. Intervals are ``[start + k*step, start + (k+1)*step)`` for
``k < intervals``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from processing.counters import counter_deltas
from processing.kernels.rolling import rolling_mean
from processing.kernels.rollup import bin_stats
from processing.kernels.spread import spread_counts
from processing.kernels.timeweight import hold_integrate

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MAX_INTERVALS = 50_000_000  # bound on the output size of one call (400 MB per float array)


class SeriesError(ValueError):
    """Input a processing function cannot work on, with what is wrong."""


@dataclass(frozen=True)
class Grid:
    """Regular intervals: ``intervals`` of ``step`` ns from ``start`` ns."""

    start: int
    step: int
    intervals: int

    def __post_init__(self) -> None:
        if self.step <= 0:
            raise SeriesError(f"interval length must be positive, got {self.step} ns")
        if not 0 <= self.intervals <= MAX_INTERVALS:
            raise SeriesError(f"number of intervals must be between 0 and {MAX_INTERVALS}, got {self.intervals}")

    @property
    def end(self) -> int:
        """ns, the end of the last interval."""
        return self.start + self.step * self.intervals

    def starts(self) -> I64:
        """Shape (intervals,): the start of each interval, ns."""
        return self.start + self.step * np.arange(self.intervals, dtype=np.int64)

    @classmethod
    def covering(cls, first: int, last: int, step: int) -> Grid:
        """The intervals aligned to multiples of ``step`` (since the epoch) from ``first`` up to ``last`` ns."""
        if step <= 0:
            raise SeriesError(f"interval length must be positive, got {step} ns")
        start = first - first % step
        stop = max(-(-last // step) * step, start + step)
        return cls(start, step, int((stop - start) // step))


def prepare(times: npt.ArrayLike, values: npt.ArrayLike) -> tuple[I64, F64]:
    """Timestamps and values as contiguous int64/float64 arrays, sorted by time, one value per timestamp.

    Raises:
        SeriesError: shapes differ, the arrays are not one-dimensional, or a value is not a number.
    """
    try:
        t = np.asarray(times, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SeriesError(f"timestamps must be integers (ns) and values numbers: {exc}") from exc
    if t.ndim != 1 or v.ndim != 1 or t.shape != v.shape:
        raise SeriesError(f"timestamps {t.shape} and values {v.shape} must be one-dimensional of equal length")
    if np.isinf(v).any():
        raise SeriesError("values must be finite numbers or NaN for missing")
    if t.size > 1 and not (np.diff(t) > 0).all():
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        keep = np.ones(t.size, dtype=bool)
        keep[:-1] = t[1:] != t[:-1]  # the last of equal timestamps wins
        t, v = t[keep], v[keep]
    return np.ascontiguousarray(t), np.ascontiguousarray(v)


@dataclass(frozen=True)
class Rollup:
    """Statistics per interval; shape (intervals,) each. Intervals without data: count 0, others NaN."""

    count: I64
    sum: F64
    mean: F64
    min: F64
    max: F64
    last: F64
    coverage: F64


def rollup(times: npt.ArrayLike, values: npt.ArrayLike, grid: Grid, *, expected_interval: float = 0.0) -> Rollup:
    """Count, sum, mean, min, max, last value and coverage of a series per interval.

    Args:
        times: shape (n,), ns.
        values: shape (n,); NaN is a missing value.
        grid: the intervals.
        expected_interval: s between readings the device model promises; coverage is the share of expected
            readings present (at most 1). 0 for event-driven models: coverage 1 for an interval with data.

    Returns:
        The statistics per interval.
    """
    t, v = prepare(times, values)
    m = grid.intervals
    count = np.zeros(m, dtype=np.int64)
    total, low, high, last = (np.empty(m) for _ in range(4))
    bin_stats(t, v, grid.start, grid.step, count, total, low, high, last)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    if expected_interval > 0:
        coverage = np.minimum(1.0, count * (expected_interval * 1e9) / grid.step)
    else:
        coverage = (count > 0).astype(np.float64)
    return Rollup(count, total, mean, low, high, last, coverage)


def time_weighted(
    times: npt.ArrayLike, states: npt.ArrayLike, grid: Grid, *, stale: int = 0, horizon: int | None = None
) -> tuple[I64, F64]:
    """Known time and time-weighted state per interval of a state held from each reading until the next.

    Args:
        times: shape (n,), ns.
        states: shape (n,), e.g. 1 occupied / 0 free; NaN is unknown.
        grid: the intervals.
        stale: ns after a reading at which a silent device's state becomes unknown (0: never).
        horizon: ns, the end of what is known (default: the end of the grid).

    Returns:
        (known ns, integral of state over the known time in state·ns), shape (intervals,) each.
    """
    t, v = prepare(times, states)
    if stale < 0:
        raise SeriesError(f"stale must not be negative, got {stale} ns")
    known = np.empty(grid.intervals, dtype=np.int64)
    weighted = np.empty(grid.intervals)
    hold_integrate(t, v, int(stale), grid.end if horizon is None else int(horizon), grid.start, grid.step,
                   known, weighted)
    return known, weighted


def occupancy(
    times: npt.ArrayLike, states: npt.ArrayLike, grid: Grid, *, stale: int = 0, horizon: int | None = None
) -> tuple[F64, F64]:
    """Time-weighted occupancy and coverage per interval of one bay (see :func:`time_weighted`).

    Returns:
        (occupancy: occupied share of the known time, NaN where nothing is known;
        coverage: known share of the interval), shape (intervals,) each.
    """
    known, weighted = time_weighted(times, states, grid, stale=stale, horizon=horizon)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(known > 0, weighted / known, np.nan)
    return share, known / grid.step


def spread(
    times: npt.ArrayLike, deltas: npt.ArrayLike, grid: Grid, *, max_gap: int = 0
) -> F64:
    """Counts per interval from counts between readings, spread evenly over the time between them.

    Args:
        times: shape (n,), ns.
        deltas: shape (n,): ``deltas[i]`` was counted since the previous reading; NaN for none.
        grid: the intervals.
        max_gap: ns; readings further apart leave a gap (0: no limit).

    Returns:
        shape (intervals,): the count per interval; NaN where an interval is not wholly covered by counted
        spans or is touched by a gap (a gap is never a zero).
    """
    t, d = prepare(times, deltas)
    if max_gap < 0:
        raise SeriesError(f"max_gap must not be negative, got {max_gap} ns")
    return _spread_sorted(t, d, grid, max_gap)


def _spread_sorted(t: I64, d: F64, grid: Grid, max_gap: int) -> F64:
    count = np.empty(grid.intervals)
    covered = np.empty(grid.intervals, dtype=np.int64)
    gap = np.empty(grid.intervals, dtype=np.uint8)
    spread_counts(t, d, int(max_gap), grid.start, grid.step, count, covered, gap)
    return np.where((gap == 0) & (covered == grid.step), count, np.nan)


def counts_from_totals(
    times: npt.ArrayLike, totals: npt.ArrayLike, grid: Grid, *, max_gap: int = 0, width_bits: int | None = None
) -> F64:
    """People per interval from a cumulative counter: differences (resets and wraps handled), then spread.

    Missing totals (NaN) are skipped: the next reading's increase covers the time since the last valid one.
    """
    t, v = prepare(times, totals)
    valid = ~np.isnan(v)
    t, v = np.ascontiguousarray(t[valid]), v[valid]
    if max_gap < 0:
        raise SeriesError(f"max_gap must not be negative, got {max_gap} ns")
    return _spread_sorted(t, np.ascontiguousarray(counter_deltas(v, width_bits=width_bits)), grid, max_gap)


def running_mean(values: npt.ArrayLike, *, window: int, min_count: int) -> F64:
    """Trailing mean over ``window`` regularly spaced values, NaN where fewer than ``min_count`` are present."""
    v = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    if v.ndim != 1:
        raise SeriesError(f"values must be one-dimensional, got shape {v.shape}")
    if window < 1 or not 1 <= min_count <= window:
        raise SeriesError(f"need window >= 1 and 1 <= min_count <= window, got {window} and {min_count}")
    out = np.empty(v.size)
    rolling_mean(v, window, min_count, out)
    return out
