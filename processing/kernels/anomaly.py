"""Anomaly-detection kernels: one pass over a device's readings per detector, results written into outputs.

Conventions shared by every kernel here:

* ``times`` are seconds since the epoch (float64), ascending; ``values`` are float64 with NaN for a
  missing reading. Both have shape (n,) and are C-contiguous.
* Outputs are preallocated by the caller with shape (n,) unless stated otherwise; every element is written.
* Rolling statistics are *trailing*: the statistic at point ``i`` uses points before ``i`` only, so a
  reading is judged against what was known when it arrived (as a live service sees it).
* A MAD is the plain median absolute deviation (not scaled by 1.4826).

The public wrappers in :mod:`processing.detect` validate input, pick the parameters and turn the
flags and scores into events.
"""

from __future__ import annotations

import numpy as np
from numba import boolean, float64, int64, njit, void

_F1 = float64[::1]
_I1 = int64[::1]
_B1 = boolean[::1]


@njit(void(_F1, float64, float64, _F1), cache=True)
def out_of_range(values, low, high, excess):  # type: ignore[no-untyped-def]
    """How far each reading lies outside ``[low, high]``.

    Args:
        values: shape (n,), NaN for missing.
        low: lowest plausible value (same unit as ``values``).
        high: highest plausible value.
        excess: output, shape (n,): ``value - high`` above the range, ``low - value`` below it, 0 inside
            the range and for missing readings.
    """
    for i in range(values.shape[0]):
        value = values[i]
        if value > high:
            excess[i] = value - high
        elif value < low:
            excess[i] = low - value
        else:
            excess[i] = 0.0


@njit(int64(_F1, float64, _I1, _I1), cache=True)
def constant_runs(values, tolerance, starts, ends):  # type: ignore[no-untyped-def]
    """Split the valid readings into maximal runs of (nearly) unchanged values.

    A run continues while each valid reading differs from the run's first reading by at most
    ``tolerance``; missing readings (NaN) neither break nor extend a run. Every valid reading belongs to
    exactly one run, so a series that always changes has runs of one reading each.

    Args:
        values: shape (n,), NaN for missing.
        tolerance: largest difference still counted as "unchanged" (≥ 0).
        starts: output, shape (n,): index of each run's first reading (entries past the count are untouched).
        ends: output, shape (n,): index of each run's last reading.

    Returns:
        The number of runs.
    """
    count = 0
    first = -1
    last = -1
    for i in range(values.shape[0]):
        value = values[i]
        if np.isnan(value):
            continue
        if first >= 0 and abs(value - values[first]) <= tolerance:
            last = i
            continue
        if first >= 0:
            starts[count] = first
            ends[count] = last
            count += 1
        first = i
        last = i
    if first >= 0:
        starts[count] = first
        ends[count] = last
        count += 1
    return count


@njit(float64(_F1, int64, int64, float64, int64), cache=True)
def _kth_deviation(ordered, split, size, centre, rank):  # type: ignore[no-untyped-def]
    """The ``rank``-th smallest (0-based) of ``|ordered[:size] - centre|`` in O(log size).

    ``ordered[:split]`` are the values at or below ``centre`` and ``ordered[split:size]`` those above, so the
    deviations form two ascending sequences, ``below[j] = centre - ordered[split - 1 - j]`` and
    ``above[j] = ordered[split + j] - centre``; a binary search finds how many of the ``rank + 1`` smallest
    come from ``below``.
    """
    n_below = split
    n_above = size - split
    low = max(0, rank + 1 - n_above)
    high = min(rank + 1, n_below)
    while low < high:
        taken = (low + high) // 2
        # too few from below while the next one below is smaller than the last one taken from above
        if centre - ordered[split - 1 - taken] < ordered[split + rank - taken] - centre:
            low = taken + 1
        else:
            high = taken
    taken = low
    rest = rank + 1 - taken
    result = -np.inf
    if taken > 0:
        result = centre - ordered[split - taken]
    if rest > 0:
        result = max(result, ordered[split + rest - 1] - centre)
    return result


@njit(float64(_F1, int64, float64), cache=True)
def _median_abs_deviation_sorted(ordered, size, centre):  # type: ignore[no-untyped-def]
    """Median of ``|ordered[:size] - centre|`` for sorted ``ordered`` (size ≥ 1) in O(log size)."""
    split = np.searchsorted(ordered[:size], centre, side="right")
    low = _kth_deviation(ordered, split, size, centre, (size - 1) // 2)
    if size % 2 == 1:
        return low
    return (low + _kth_deviation(ordered, split, size, centre, size // 2)) / 2.0


@njit(void(_F1, int64, int64, _F1, _F1), cache=True)
def rolling_median_mad(values, window, min_count, median_out, mad_out):  # type: ignore[no-untyped-def]
    """Median and MAD of the valid readings among the ``window`` points before each point.

    The window is kept sorted: the reading that enters takes the leaving one's place and moves only past the
    values between the two, and the MAD is selected from the sorted window in O(log window).

    Args:
        values: shape (n,), NaN for missing.
        window: number of preceding points (valid or not) that form the window, ≥ 1.
        min_count: fewest valid readings a window needs; with fewer the outputs are NaN.
        median_out: output, shape (n,): median of the window before point ``i``.
        mad_out: output, shape (n,): median absolute deviation from that median.
    """
    ordered = np.empty(max(window, 1), dtype=np.float64)
    size = 0
    for i in range(values.shape[0]):
        if size >= max(min_count, 1):
            half = size // 2
            centre = ordered[half] if size % 2 == 1 else (ordered[half - 1] + ordered[half]) / 2.0
            median_out[i] = centre
            mad_out[i] = _median_abs_deviation_sorted(ordered, size, centre)
        else:
            median_out[i] = np.nan
            mad_out[i] = np.nan
        leaving = i - window
        value = values[i]
        if leaving >= 0 and not np.isnan(values[leaving]):
            position = np.searchsorted(ordered[:size], values[leaving])
            if np.isnan(value):
                for j in range(position, size - 1):
                    ordered[j] = ordered[j + 1]
                size -= 1
            else:
                # replace the leaving value in place, moving only the values between the two
                while position + 1 < size and ordered[position + 1] < value:
                    ordered[position] = ordered[position + 1]
                    position += 1
                while position > 0 and ordered[position - 1] > value:
                    ordered[position] = ordered[position - 1]
                    position -= 1
                ordered[position] = value
        elif not np.isnan(value):
            position = np.searchsorted(ordered[:size], value)
            for j in range(size, position, -1):
                ordered[j] = ordered[j - 1]
            ordered[position] = value
            size += 1


@njit(void(_F1, float64, _B1), cache=True)
def gaps(times, max_interval, gap_before):  # type: ignore[no-untyped-def]
    """Mark readings that arrive more than ``max_interval`` seconds after the previous one.

    Args:
        times: shape (n,), ascending seconds of the readings that arrived (missing ones removed).
        max_interval: longest silence that is still normal, in seconds.
        gap_before: output, shape (n,): True where the silence before reading ``i`` was too long.
    """
    if times.shape[0] > 0:
        gap_before[0] = False
    for i in range(1, times.shape[0]):
        gap_before[i] = times[i] - times[i - 1] > max_interval


@njit(void(_F1, _F1, _F1, float64, _F1, _F1), cache=True)
def cusum(values, reference, scale, slack, upper, lower):  # type: ignore[no-untyped-def]
    """Two-sided CUSUM of the standardised difference between readings and a reference.

    With ``r = (value - reference) / scale``: ``upper = max(0, upper + r - slack)`` and
    ``lower = max(0, lower - r - slack)``. Where any of the three inputs is missing (NaN) or the scale is
    not positive, both sums keep their previous value.

    Args:
        values: shape (n,).
        reference: shape (n,), what the reading should be (a long-term median or a co-located sensor).
        scale: shape (n,), the normal spread around the reference (> 0).
        slack: allowance in units of ``scale`` that a difference must exceed to accumulate (≥ 0).
        upper: output, shape (n,): the sum for upward drift after point ``i``.
        lower: output, shape (n,): the sum for downward drift after point ``i``.
    """
    high = 0.0
    low = 0.0
    for i in range(values.shape[0]):
        value = values[i]
        centre = reference[i]
        spread = scale[i]
        if not (np.isnan(value) or np.isnan(centre) or np.isnan(spread)) and spread > 0.0:
            standardised = (value - centre) / spread
            high = max(0.0, high + standardised - slack)
            low = max(0.0, low - standardised - slack)
        upper[i] = high
        lower[i] = low


@njit(void(_F1, _I1, _B1, int64, int64, int64, _F1, _F1), cache=True)
def seasonal_baseline(values, slots, excluded, n_slots, depth, min_count, expected, spread):  # type: ignore[no-untyped-def]
    """Median and MAD of the same slot's earlier readings (a Saturday 14:00 against earlier Saturdays 14:00).

    Each slot keeps the last ``depth`` valid readings that were not excluded (public holidays, known events);
    the baseline at point ``i`` is computed from the readings its slot held *before* ``i``.

    Args:
        values: shape (n,), NaN for missing.
        slots: shape (n,), the slot of each reading in ``[0, n_slots)`` (hour of the week, say).
        excluded: shape (n,), True for readings that must not enter the baseline.
        n_slots: number of slots.
        depth: how many earlier readings per slot form the baseline, ≥ 1.
        min_count: fewest readings a slot needs; with fewer the outputs are NaN.
        expected: output, shape (n,): median of the slot's earlier readings.
        spread: output, shape (n,): their median absolute deviation.
    """
    history = np.empty((max(n_slots, 1), max(depth, 1)), dtype=np.float64)
    filled = np.zeros(max(n_slots, 1), dtype=np.int64)
    cursor = np.zeros(max(n_slots, 1), dtype=np.int64)
    scratch = np.empty(max(depth, 1), dtype=np.float64)
    for i in range(values.shape[0]):
        slot = slots[i]
        size = filled[slot]
        if size >= max(min_count, 1):
            for j in range(size):  # insertion sort: a slot holds a handful of readings
                item = history[slot, j]
                k = j
                while k > 0 and scratch[k - 1] > item:
                    scratch[k] = scratch[k - 1]
                    k -= 1
                scratch[k] = item
            half = size // 2
            centre = scratch[half] if size % 2 == 1 else (scratch[half - 1] + scratch[half]) / 2.0
            expected[i] = centre
            spread[i] = _median_abs_deviation_sorted(scratch, size, centre)
        else:
            expected[i] = np.nan
            spread[i] = np.nan
        value = values[i]
        if np.isnan(value) or excluded[i]:
            continue
        history[slot, cursor[slot]] = value
        cursor[slot] = (cursor[slot] + 1) % max(depth, 1)
        if size < depth:
            filled[slot] = size + 1


@njit(void(_F1, _F1, float64, _F1), cache=True)
def pair_excess(smaller, larger, tolerance, excess):  # type: ignore[no-untyped-def]
    """How far a quantity exceeds one it can never exceed (PM2.5 above PM10 at the same station).

    Args:
        smaller: shape (n,), the quantity that must stay at or below ``larger`` (NaN for missing).
        larger: shape (n,), aligned in time with ``smaller``.
        tolerance: excess still explained by measurement noise (same unit, ≥ 0).
        excess: output, shape (n,): ``smaller - larger`` where that is above ``tolerance``, else 0
            (also 0 where either reading is missing).
    """
    for i in range(smaller.shape[0]):
        difference = smaller[i] - larger[i]
        excess[i] = difference if difference > tolerance else 0.0


@njit(void(_I1, int64, int64, _I1, _B1), cache=True)
def frame_losses(counters, modulus, wrap_margin, lost, reset):  # type: ignore[no-untyped-def]
    """Uplinks lost between consecutive received ones, from their LoRaWAN frame counters.

    Between two received uplinks with counters ``a`` then ``b``: ``b - a - 1`` were lost when ``b > a``; none
    when ``b == a`` (a repeated frame). When ``b < a`` the counter either wrapped (``a`` within ``wrap_margin`` of
    ``modulus``: ``modulus - a - 1 + b`` lost) or the device restarted and counts from 0 again (``b`` lost,
    ``reset`` set).

    Args:
        counters: shape (n,), frame counters in order of reception (0 ≤ counter < modulus).
        modulus: the counter's range, 2**32 (or 2**16 for devices that send 16-bit counters).
        wrap_margin: how close to ``modulus`` a counter must be for a decrease to be a wrap-around.
        lost: output, shape (n,): uplinks lost just before uplink ``i`` (0 for the first).
        reset: output, shape (n,): True where the counter restarted before uplink ``i``.
    """
    if counters.shape[0] > 0:
        lost[0] = 0
        reset[0] = False
    for i in range(1, counters.shape[0]):
        before = counters[i - 1]
        now = counters[i]
        reset[i] = False
        if now > before:
            lost[i] = now - before - 1
        elif now == before:
            lost[i] = 0
        elif before >= modulus - wrap_margin:
            lost[i] = modulus - before - 1 + now
        else:
            lost[i] = now
            reset[i] = True
