"""Fixed-interval statistics of a time series: count, sum, min, max and last value per interval."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from processing.kernels import kernel


@kernel(
    "void(int64[::1], float64[::1], int64, int64, int64[::1], float64[::1], float64[::1], float64[::1],"
    " float64[::1])"
)
def bin_stats(  # noqa: D417 - the five outputs share one entry
    times: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    start: int,
    step: int,
    count: npt.NDArray[np.int64],
    total: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    last: npt.NDArray[np.float64],
) -> None:
    """Statistics of ``values`` per interval ``[start + k*step, start + (k+1)*step)``.

    Args:
        times: shape (n,), ns, sorted ascending.
        values: shape (n,); NaN values are skipped.
        start: ns, the start of interval 0.
        step: ns, the interval length (> 0).
        count, total, low, high, last: shape (m,), outputs; overwritten. Intervals without a value have
            count 0, total 0 and NaN for low, high and last. Samples outside the m intervals are ignored.
    """
    m = count.shape[0]
    for k in range(m):
        count[k] = 0
        total[k] = 0.0
        low[k] = math.nan
        high[k] = math.nan
        last[k] = math.nan
    if m == 0:
        return
    k = 0
    edge = start + step  # end of interval k; times are sorted, so k only moves forward
    stop = start + m * step
    for i in range(times.shape[0]):
        t = times[i]
        value = values[i]
        if t < start or math.isnan(value):
            continue
        if t >= stop:
            break
        if t >= edge:
            k = (t - start) // step
            edge = start + (k + 1) * step
        if count[k] == 0:
            low[k] = value
            high[k] = value
        else:
            low[k] = min(low[k], value)
            high[k] = max(high[k], value)
        count[k] += 1
        total[k] += value
        last[k] = value
