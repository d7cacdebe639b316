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
    k = 0
    for i in range(1, times.shape[0]):
        a0 = times[i - 1]
        b = min(times[i], stop)
        a = max(a0, start)
        if b <= a or math.isnan(deltas[i]):
            continue
        span = times[i] - a0
        too_long = max_gap > 0 and span > max_gap
        rate = deltas[i] / span
        k = interval_of(a, start, step, k)
        while a < b:
            edge = min(b, start + (k + 1) * step)
            if too_long:
                gap[k] = 1
            else:
                count[k] += rate * (edge - a)
                covered[k] += edge - a
            a = edge
            k += 1
