"""Every kernel against an obvious numpy twin: random data, NaN gaps, constant runs, empty windows, single points,
and (through the wrappers) unsorted and duplicate timestamps.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processing.airquality import load_bands
from processing.kernels.bands import worst_band
from processing.timeseries import (
    Grid,
    SeriesError,
    occupancy,
    prepare,
    rollup,
    running_mean,
    spread,
    time_weighted,
)

F64 = npt.NDArray[np.float64]
EXAMPLES = settings(max_examples=60, deadline=None)

values_st = st.one_of(
    st.floats(-1000, 1000, allow_nan=False),
    st.just(math.nan),
    st.sampled_from([0.0, 1.0, 7.5]),  # constant runs
)
points_st = st.lists(st.tuples(st.integers(0, 2000), values_st), max_size=40)
grid_st = st.builds(Grid, st.integers(-200, 1500), st.integers(1, 300), st.integers(0, 12))


def deduplicated(points: list[tuple[int, float]]) -> tuple[np.ndarray, F64]:
    """Sorted by time, the last value given for a timestamp kept (the twin of the wrappers' input handling)."""
    latest = dict(points)
    t = np.array(sorted(latest), dtype=np.int64)
    return t, np.array([latest[int(x)] for x in t], dtype=np.float64)


def overlap(a: np.ndarray, b: np.ndarray, grid: Grid) -> np.ndarray:
    """Shape (segments, intervals): ns each segment [a, b) shares with each interval."""
    s = grid.starts()[None, :]
    return np.clip(np.minimum(b[:, None], s + grid.step) - np.maximum(a[:, None], s), 0, None)


# --- rollup -----------------------------------------------------------------------------------------------


def rollup_twin(t: np.ndarray, v: F64, grid: Grid) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {k: [] for k in ("count", "sum", "min", "max", "last")}
    for s in grid.starts():
        inside = v[(t >= s) & (t < s + grid.step) & ~np.isnan(v)]
        out["count"].append(inside.size)
        out["sum"].append(inside.sum())
        out["min"].append(inside.min() if inside.size else math.nan)
        out["max"].append(inside.max() if inside.size else math.nan)
        out["last"].append(inside[-1] if inside.size else math.nan)
    return {k: np.array(x, dtype=float) for k, x in out.items()}


@EXAMPLES
@given(points_st, grid_st)
def test_rollup_matches_twin(points: list[tuple[int, float]], grid: Grid) -> None:
    t, v = deduplicated(points)  # the points themselves come in any order, with repeated timestamps
    got = rollup([p[0] for p in points], [p[1] for p in points], grid, expected_interval=60e-9)
    twin = rollup_twin(t, v, grid)
    np.testing.assert_array_equal(got.count, twin["count"])
    for name in ("sum", "min", "max", "last"):
        np.testing.assert_allclose(getattr(got, name), twin[name], rtol=1e-9, atol=1e-9, equal_nan=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_allclose(got.mean, twin["sum"] / twin["count"], rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(got.coverage, np.minimum(1, twin["count"] * 60 / grid.step))


def test_duplicate_timestamp_keeps_the_last_value_given() -> None:
    t, v = prepare([30, 10, 30, 20], [1.0, 2.0, 3.0, 4.0])
    assert t.tolist() == [10, 20, 30]
    assert v.tolist() == [2.0, 4.0, 3.0]


def test_rollup_by_hand() -> None:
    stats = rollup([0, 5, 12, 25], [2.0, 4.0, math.nan, 9.0], Grid(0, 10, 3), expected_interval=5e-9)
    assert stats.count.tolist() == [2, 0, 1]
    assert stats.mean[0] == 3.0
    assert math.isnan(stats.mean[1])
    assert stats.last[2] == 9.0
    assert stats.coverage.tolist() == [1.0, 0.0, 0.5]


# --- time-weighted state -------------------------------------------------------------------------------------


def hold_twin(t: np.ndarray, v: F64, grid: Grid, stale: int, horizon: int) -> tuple[np.ndarray, F64]:
    ends = np.append(t[1:], horizon) if t.size else t
    ends = np.minimum(ends, horizon)
    if stale > 0:
        ends = np.minimum(ends, t + stale)
    keep = ~np.isnan(v)
    o = overlap(t[keep], ends[keep], grid)
    return o.sum(axis=0), (o * v[keep][:, None]).sum(axis=0)


@EXAMPLES
@given(points_st, grid_st, st.integers(0, 400), st.integers(0, 3000))
def test_time_weighted_matches_twin(points: list[tuple[int, float]], grid: Grid, stale: int, horizon: int) -> None:
    t, v = deduplicated(points)
    known, weighted = time_weighted([p[0] for p in points], [p[1] for p in points], grid, stale=stale,
                                    horizon=horizon)
    twin_known, twin_weighted = hold_twin(t, v, grid, stale, horizon)
    np.testing.assert_array_equal(known, twin_known)
    np.testing.assert_allclose(weighted, twin_weighted, rtol=1e-9, atol=1e-6)


def test_occupied_15_of_60_minutes_is_a_quarter() -> None:
    minute = 60_000_000_000
    # free at 0, occupied 10:00-10:15 with a heartbeat in between, free again
    times = [0, 10 * minute, 12 * minute, 25 * minute]
    share, coverage = occupancy(times, [0, 1, 1, 0], Grid(0, 60 * minute, 1))
    assert share.tolist() == [0.25]
    assert coverage.tolist() == [1.0]


def test_a_silent_bay_is_unknown_not_free() -> None:
    minute = 60_000_000_000
    share, coverage = occupancy([0], [1.0], Grid(0, 60 * minute, 2), stale=30 * minute)
    assert share[0] == 1.0
    assert coverage[0] == 0.5
    assert math.isnan(share[1])
    assert coverage[1] == 0.0


# --- spreading counts ------------------------------------------------------------------------------------


def spread_twin(t: np.ndarray, d: F64, grid: Grid, max_gap: int) -> F64:
    if t.size < 2:
        return np.full(grid.intervals, np.nan)
    a, b, delta = t[:-1], t[1:], d[1:]
    o = overlap(a, b, grid)
    long = (b - a > max_gap) if max_gap > 0 else np.zeros(a.size, dtype=bool)
    use = ~long & ~np.isnan(delta)
    count = (o[use] * (delta[use] / (b[use] - a[use]))[:, None]).sum(axis=0)
    covered = o[use].sum(axis=0)
    gap = (o[long] > 0).any(axis=0)
    return np.where(~gap & (covered == grid.step), count, np.nan)


deltas_st = st.lists(st.tuples(st.integers(0, 2000), st.one_of(st.integers(0, 500).map(float), st.just(math.nan))),
                     max_size=40)


@EXAMPLES
@given(deltas_st, grid_st, st.integers(0, 500))
def test_spread_matches_twin(points: list[tuple[int, float]], grid: Grid, max_gap: int) -> None:
    t, d = deduplicated(points)
    got = spread([p[0] for p in points], [p[1] for p in points], grid, max_gap=max_gap)
    np.testing.assert_allclose(got, spread_twin(t, d, grid, max_gap), rtol=1e-9, atol=1e-9, equal_nan=True)


@EXAMPLES
@given(st.lists(st.integers(1, 100), min_size=2, max_size=30), st.integers(1, 50))
def test_spreading_keeps_the_total(gaps: list[int], step: int) -> None:
    """Spread over intervals that the readings cover wholly, the counts add up to the counts given."""
    t = np.cumsum([0, *gaps]) * step
    d = np.r_[np.nan, np.arange(1, len(gaps) + 1, dtype=float)]
    got = spread(t, d, Grid(0, step, int(t[-1] // step)))
    assert not np.isnan(got).any()
    assert math.isclose(got.sum(), np.nansum(d), rel_tol=1e-9)


# --- running means -------------------------------------------------------------------------------------------


def rolling_twin(v: F64, window: int, min_count: int) -> F64:
    out = np.full(v.size, np.nan)
    for i in range(v.size):
        chunk = v[max(0, i - window + 1) : i + 1]
        chunk = chunk[~np.isnan(chunk)]
        if chunk.size >= min_count:
            out[i] = chunk.mean()
    return out


@EXAMPLES
@given(st.lists(values_st, max_size=60), st.integers(1, 30), st.data())
def test_running_mean_matches_twin(values: list[float], window: int, data: st.DataObject) -> None:
    min_count = data.draw(st.integers(1, window))
    v = np.array(values, dtype=float)
    got = running_mean(v, window=window, min_count=min_count)
    np.testing.assert_allclose(got, rolling_twin(v, window, min_count), rtol=1e-7, atol=1e-7, equal_nan=True)


def test_running_mean_refuses_a_bad_window() -> None:
    with pytest.raises(SeriesError, match="window"):
        running_mean([1.0], window=0, min_count=1)


# --- bands --------------------------------------------------------------------------------------------------


def bands_twin(values: F64, bounds: F64) -> tuple[np.ndarray, np.ndarray]:
    band = np.where(np.isnan(values), 0, 1 + (values[:, :, None] > bounds[None, :, :]).sum(axis=2))
    index = band.max(axis=1, initial=0)
    worst = np.where(index > 0, band.argmax(axis=1) if band.shape[1] else -1, -1)
    return index, worst


@EXAMPLES
@given(st.lists(st.lists(st.one_of(st.floats(0, 400), st.just(math.nan)), min_size=4, max_size=4), max_size=30))
def test_worst_band_matches_twin(rows: list[list[float]]) -> None:
    table = load_bands("2024")
    bounds = np.ascontiguousarray(table.bounds[:4])
    values = np.ascontiguousarray(np.array(rows, dtype=float).reshape(-1, 4))
    index = np.empty(values.shape[0], dtype=np.int8)
    worst = np.empty(values.shape[0], dtype=np.int64)
    worst_band(values, bounds, index, worst)
    twin_index, twin_worst = bands_twin(values, bounds)
    np.testing.assert_array_equal(index, twin_index)
    np.testing.assert_array_equal(worst, twin_worst)


def test_band_edges() -> None:
    bounds = np.ascontiguousarray(load_bands("2024").bounds[:1])  # PM2.5: 5 15 50 90 140
    values = np.ascontiguousarray(np.array([[0.0], [5.0], [5.01], [140.0], [140.5]]))
    index = np.empty(5, dtype=np.int8)
    worst = np.empty(5, dtype=np.int64)
    worst_band(values, bounds, index, worst)
    assert index.tolist() == [1, 1, 2, 5, 6]


def test_garbage_input_is_named() -> None:
    with pytest.raises(SeriesError, match="equal length"):
        rollup([1, 2], [1.0], Grid(0, 1, 1))
    with pytest.raises(SeriesError, match="finite"):
        rollup([1], [math.inf], Grid(0, 1, 1))
    with pytest.raises(SeriesError, match="positive"):
        Grid(0, 0, 1)
