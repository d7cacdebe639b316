"""Counts between readings spread evenly over the time between them."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from processing.kernels import kernel
from processing.kernels.timeweight import interval_of


@kernel("void(int64[::1], float64[::1], int64, int64, int64, float64[::1], int64[::1], uint8[::1])")
def spread_counts(
    times: npt.NDArray[np.int64],
    deltas: npt.NDArray[np.float64],
    max_gap: int,
    start: int,
    step: int,
    count: npt.NDArray[np.float64],
    covered: npt.NDArray[np.int64],
    gap: npt.NDArray[np.uint8],
) -> None:
    """Distribute each count over (previous reading, this reading] in proportion to time.

    Args:
        times: shape (n,), ns, sorted ascending, no duplicates.
        deltas: shape (n,), ``deltas[i]`` counted between ``times[i-1]`` and ``times[i]``; NaN for none.
        max_gap: ns; readings further apart than this leave a gap instead of a count (0 or less: no limit).
        start: ns, start of interval 0.
        step: ns, interval length (> 0).
        count: shape (m,), output: the count that falls into each interval.
        covered: shape (m,), output: ns of each interval covered by a counted span.
        gap: shape (m,), output: 1 where a span longer than ``max_gap`` touches the interval.
    """
    m = count.shape[0]
    for k in range(m):
        count[k] = 0.0
        covered[k] = 0
        gap[k] = 0
    stop = start + m * step
    # spans come in time order, so the intervals they touch only move forward: the open interval's sums stay in
    # registers and are stored once, when a span reaches the next interval
    k = 0
    upper = start + step  # end of interval k
    kc = 0.0
    kv = 0
    n = times.shape[0]
    for i in range(1, n):
        delta = deltas[i]
        if math.isnan(delta):
            continue
        a0 = times[i - 1]
        t = times[i]
        b = min(t, stop)
        a = max(a0, start)
        if b <= a:
            continue
        span = t - a0
        if a >= upper:
            count[k] += kc
            covered[k] += kv
            kc = 0.0
            kv = 0
            k = interval_of(a, start, step, k)
            upper = start + (k + 1) * step
        if max_gap > 0 and span > max_gap:
            while True:  # a gap: flag the intervals it touches, count nothing
                gap[k] = 1
                if b <= upper:
                    break
                count[k] += kc
                covered[k] += kv
                kc = 0.0
                kv = 0
                k += 1
                upper += step
            continue
        rate = delta / span
        while True:
            edge = min(b, upper)
            kc += rate * (edge - a)
            kv += edge - a
            if edge >= b:
                break
            count[k] += kc
            covered[k] += kv
            kc = 0.0
            kv = 0
            a = edge
            k += 1
            upper += step
    if m > 0:
        count[k] += kc
        covered[k] += kv
