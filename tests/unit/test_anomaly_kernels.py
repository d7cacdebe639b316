"""Every anomaly kernel against a slow, obvious numpy twin: random data, NaN gaps, constant runs, empty input."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from processing.kernels import anomaly

FloatArray = npt.NDArray[np.float64]
EXAMPLES = settings(max_examples=60, deadline=None)


@st.composite
def series(draw: st.DrawFn, *, max_segments: int = 6) -> FloatArray:
    """Readings built from segments: random values, small integers (many ties), constant runs, NaN gaps."""
    parts: list[float] = []
    for _ in range(draw(st.integers(0, max_segments))):
        length = draw(st.integers(1, 12))
        shape = draw(st.sampled_from(["random", "ties", "constant", "missing"]))
        if shape == "random":
            parts += draw(st.lists(st.floats(-1e6, 1e6), min_size=length, max_size=length))
        elif shape == "ties":
            parts += [float(x) for x in draw(st.lists(st.integers(-3, 3), min_size=length, max_size=length))]
        elif shape == "constant":
            parts += [draw(st.floats(-1e3, 1e3))] * length
        else:
            parts += [math.nan] * length
    return np.array(parts, dtype=np.float64)


def valid(window: FloatArray) -> FloatArray:
    return window[~np.isnan(window)]


# --- out of range and impossible pairs ---------------------------------------------------------------


@EXAMPLES
@given(series(), st.floats(-10, 0), st.floats(0, 10))
def test_out_of_range_matches_twin(values: FloatArray, low: float, high: float) -> None:
    excess = np.full(values.size, -1.0)
    anomaly.out_of_range(values, low, high, excess)
    twin = np.where(values > high, values - high, np.where(values < low, low - values, 0.0))
    np.testing.assert_array_equal(excess, np.nan_to_num(twin, nan=0.0))


@EXAMPLES
@given(st.integers(0, 40).flatmap(lambda n: st.tuples(series(), series())), st.floats(0, 2))
def test_pair_excess_matches_twin(pair: tuple[FloatArray, FloatArray], tolerance: float) -> None:
    n = min(pair[0].size, pair[1].size)
    smaller, larger = pair[0][:n].copy(), pair[1][:n].copy()
    excess = np.full(n, -1.0)
    anomaly.pair_excess(smaller, larger, tolerance, excess)
    difference = smaller - larger
    twin = np.where(~np.isnan(difference) & (difference > tolerance), difference, 0.0)
    np.testing.assert_array_equal(excess, twin)


def test_pm25_above_pm10_is_flagged() -> None:
    excess = np.empty(3)
    anomaly.pair_excess(np.array([10.0, 30.0, math.nan]), np.array([20.0, 25.0, 5.0]), 1.0, excess)
    assert excess.tolist() == [0.0, 5.0, 0.0]


# --- stuck values ---------------------------------------------------------------------------------------


def twin_constant_runs(values: FloatArray, tolerance: float) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in np.flatnonzero(~np.isnan(values)):
        if runs and abs(values[i] - values[runs[-1][0]]) <= tolerance:
            runs[-1] = (runs[-1][0], int(i))
        else:
            runs.append((int(i), int(i)))
    return runs


@EXAMPLES
@given(series(), st.sampled_from([0.0, 0.5, 2.0]))
def test_constant_runs_match_twin(values: FloatArray, tolerance: float) -> None:
    starts = np.full(values.size, -1, dtype=np.int64)
    ends = np.full(values.size, -1, dtype=np.int64)
    count = anomaly.constant_runs(values, tolerance, starts, ends)
    assert list(zip(starts[:count].tolist(), ends[:count].tolist(), strict=True)) == twin_constant_runs(
        values, tolerance
    )


def test_missing_readings_do_not_break_a_frozen_run() -> None:
    values = np.array([1.0, 5.0, 5.0, math.nan, 5.0, 6.0])
    starts, ends = np.empty(6, dtype=np.int64), np.empty(6, dtype=np.int64)
    count = anomaly.constant_runs(values, 0.0, starts, ends)
    assert (starts[:count].tolist(), ends[:count].tolist()) == ([0, 1, 5], [0, 4, 5])


# --- rolling median and MAD (spikes, long-term reference) ---------------------------------------------------


def twin_rolling(values: FloatArray, window: int, min_count: int) -> tuple[FloatArray, FloatArray]:
    medians, mads = np.full(values.size, np.nan), np.full(values.size, np.nan)
    for i in range(values.size):
        inside = valid(values[max(0, i - window) : i])
        if inside.size >= max(min_count, 1):
            medians[i] = np.median(inside)
            mads[i] = np.median(np.abs(inside - medians[i]))
    return medians, mads


@EXAMPLES
@given(series(), st.integers(1, 15), st.integers(0, 6))
def test_rolling_median_mad_matches_twin(values: FloatArray, window: int, min_count: int) -> None:
    medians, mads = np.empty(values.size), np.empty(values.size)
    anomaly.rolling_median_mad(values, window, min_count, medians, mads)
    twin_medians, twin_mads = twin_rolling(values, window, min_count)
    np.testing.assert_allclose(medians, twin_medians, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(mads, twin_mads, rtol=1e-12, atol=1e-9)


def test_rolling_window_uses_only_earlier_points() -> None:
    values = np.array([1.0, 2.0, 3.0, 100.0])
    medians, mads = np.empty(4), np.empty(4)
    anomaly.rolling_median_mad(values, 3, 1, medians, mads)
    assert math.isnan(medians[0])
    assert medians[1:].tolist() == [1.0, 1.5, 2.0]
    assert mads[3] == 1.0


# --- gaps ------------------------------------------------------------------------------------------------


@EXAMPLES
@given(st.lists(st.floats(0.5, 5000), max_size=40), st.floats(1, 3000))
def test_gaps_match_twin(intervals: list[float], max_interval: float) -> None:
    times = np.cumsum(np.array(intervals, dtype=np.float64)) + 1.7e9
    flags = np.ones(times.size, dtype=np.bool_)
    anomaly.gaps(times, max_interval, flags)
    twin = np.concatenate([[False], np.diff(times) > max_interval])[: times.size]
    np.testing.assert_array_equal(flags, twin)


# --- drift -----------------------------------------------------------------------------------------------


def twin_cusum(values: FloatArray, reference: FloatArray, scale: FloatArray, slack: float) -> tuple[
    FloatArray, FloatArray
]:
    upper, lower = np.zeros(values.size), np.zeros(values.size)
    high = low = 0.0
    for i in range(values.size):
        if np.isfinite(values[i]) and np.isfinite(reference[i]) and np.isfinite(scale[i]) and scale[i] > 0:
            r = (values[i] - reference[i]) / scale[i]
            high, low = max(0.0, high + r - slack), max(0.0, low - r - slack)
        upper[i], lower[i] = high, low
    return upper, lower


@EXAMPLES
# spreads are floored at the series' resolution (≥ 1e-9) before they reach the kernel; a subnormal spread
# would overflow the sums of both the kernel and its twin
@given(series(), st.floats(0, 3), st.floats(-5, 5), st.one_of(st.just(0.0), st.floats(1e-6, 10.0)))
def test_cusum_matches_twin(values: FloatArray, slack: float, centre: float, spread: float) -> None:
    values = np.clip(values, -1e4, 1e4)
    reference = np.full(values.size, centre)
    reference[::7] = np.nan
    scale = np.full(values.size, spread)
    upper, lower = np.empty(values.size), np.empty(values.size)
    anomaly.cusum(values, reference, scale, slack, upper, lower)
    twin_upper, twin_lower = twin_cusum(values, reference, scale, slack)
    np.testing.assert_allclose(upper, twin_upper, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(lower, twin_lower, rtol=1e-9, atol=1e-9)


def test_cusum_accumulates_a_slow_shift() -> None:
    values = np.concatenate([np.zeros(10), np.full(10, 1.0)])
    upper, lower = np.empty(20), np.empty(20)
    anomaly.cusum(values, np.zeros(20), np.ones(20), 0.5, upper, lower)
    assert upper[9] == 0.0
    assert upper[-1] == 5.0
    assert lower.max() == 0.0


# --- seasonal baseline -------------------------------------------------------------------------------------


def twin_seasonal(
    values: FloatArray, slots: npt.NDArray[np.int64], excluded: npt.NDArray[np.bool_], depth: int, min_count: int
) -> tuple[FloatArray, FloatArray]:
    expected, spread = np.full(values.size, np.nan), np.full(values.size, np.nan)
    usable = ~np.isnan(values) & ~excluded
    for i in range(values.size):
        earlier = values[: i][(slots[:i] == slots[i]) & usable[:i]][-depth:]
        if earlier.size >= max(min_count, 1):
            expected[i] = np.median(earlier)
            spread[i] = np.median(np.abs(earlier - expected[i]))
    return expected, spread


@EXAMPLES
@given(series(max_segments=8), st.integers(1, 4), st.integers(1, 6), st.integers(0, 4))
def test_seasonal_baseline_matches_twin(
    values: FloatArray, n_slots: int, depth: int, min_count: int
) -> None:
    rng = np.random.default_rng(values.size)
    slots = (np.arange(values.size) % n_slots).astype(np.int64)
    excluded = rng.random(values.size) < 0.2
    expected, spread = np.empty(values.size), np.empty(values.size)
    anomaly.seasonal_baseline(values, slots, excluded, n_slots, depth, min_count, expected, spread)
    twin_expected, twin_spread = twin_seasonal(values, slots, excluded, depth, min_count)
    np.testing.assert_allclose(expected, twin_expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(spread, twin_spread, rtol=1e-12, atol=1e-9)


def test_a_saturday_is_compared_with_saturdays() -> None:
    weekday, saturday = 0, 1
    slots = np.array([weekday, saturday] * 4, dtype=np.int64)
    values = np.array([100.0, 10.0, 110.0, 12.0, 90.0, 11.0, 105.0, 50.0])
    expected, spread = np.empty(8), np.empty(8)
    anomaly.seasonal_baseline(values, slots, np.zeros(8, dtype=np.bool_), 2, 8, 1, expected, spread)
    assert expected[7] == 11.0
    assert spread[7] == 1.0
    assert expected[6] == 100.0


def test_excluded_days_stay_out_of_the_baseline() -> None:
    values = np.array([10.0, 500.0, 10.0])
    excluded = np.array([False, True, False])
    expected, spread = np.empty(3), np.empty(3)
    anomaly.seasonal_baseline(values, np.zeros(3, dtype=np.int64), excluded, 1, 4, 1, expected, spread)
    assert expected[2] == 10.0


# --- frame counters (packet loss) ---------------------------------------------------------------------------


def twin_frame_losses(counters: list[int], modulus: int, margin: int) -> tuple[list[int], list[bool]]:
    lost, reset = [0] * len(counters), [False] * len(counters)
    for i in range(1, len(counters)):
        a, b = counters[i - 1], counters[i]
        if b >= a:
            lost[i] = max(b - a - 1, 0)
        elif a >= modulus - margin:
            lost[i] = (b - a) % modulus - 1
        else:
            lost[i], reset[i] = b, True
    return lost, reset


@EXAMPLES
@given(st.lists(st.integers(0, 2**16 - 1), max_size=40), st.integers(0, 2000))
def test_frame_losses_match_twin(counters: list[int], margin: int) -> None:
    lost = np.full(len(counters), -1, dtype=np.int64)
    reset = np.ones(len(counters), dtype=np.bool_)
    anomaly.frame_losses(np.array(counters, dtype=np.int64), 2**16, margin, lost, reset)
    twin_lost, twin_reset = twin_frame_losses(counters, 2**16, margin)
    assert lost.tolist() == twin_lost
    assert reset.tolist() == twin_reset


def test_frame_losses_wrap_and_restart() -> None:
    counters = np.array([10, 11, 14, 14, 2**32 - 2, 1, 3, 0, 5], dtype=np.int64)
    lost, reset = np.empty(9, dtype=np.int64), np.empty(9, dtype=np.bool_)
    anomaly.frame_losses(counters, 2**32, 1000, lost, reset)
    assert lost.tolist() == [0, 0, 2, 0, 2**32 - 2 - 14 - 1, 2, 1, 0, 4]
    assert reset.tolist() == [False, False, False, False, False, False, False, True, False]
